"""CloudWatch Logs subscription events as Lambda receives them: what the local stack delivers to the
SIEM function from the local gateway's access log, and what tests and `ticketguard siem replay` read.
The real shape: `{"awslogs": {"data": base64(gzip(JSON))}}`, the JSON a DATA_MESSAGE with the log
group, stream, the subscription filters and the log events (id, timestamp in ms, message)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any


def subscription_event(
    log_group: str,
    messages: Sequence[tuple[datetime, str]],
    *,
    message_type: str = "DATA_MESSAGE",
    log_stream: str = "local",
    owner: str = "000000000000",
) -> dict[str, Any]:
    document = {
        "messageType": message_type,
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": [f"{log_group.strip('/').replace('/', '-')}-siem"],
        "logEvents": [
            {
                "id": uuid.uuid4().int.__str__()[:56],
                "timestamp": int(at.timestamp() * 1000),
                "message": message,
            }
            for at, message in messages
        ],
    }
    data = base64.b64encode(gzip.compress(json.dumps(document).encode())).decode()
    return {"awslogs": {"data": data}}


def access_log_line(ip: str, status: int, at: datetime, *, path: str = "/api/v1/ml/predict/fraud") -> str:
    """One API Gateway access log line (json_with_standard_fields, as infra/api.py configures it)."""
    return json.dumps(
        {
            "requestId": str(uuid.uuid4()),
            "ip": ip,
            "requestTime": at.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "httpMethod": "POST",
            "resourcePath": path,
            "status": str(status),
            "protocol": "HTTP/1.1",
            "responseLength": "80",
        }
    )

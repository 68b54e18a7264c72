"""Findings to EventBridge: one `Security finding` event each (source `ticketguard.siem`), the finding
as its detail; the SOAR function's rule matches them. PutEvents takes 10 entries a call; an entry
EventBridge refused fails the invocation (its retry publishes again; the SOAR acts once per finding)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shared.errors import DependencyUnavailable
from shared.siem.models import Finding

SOURCE = "ticketguard.siem"
DETAIL_TYPE = "Security finding"


def entries(findings: Sequence[Finding], bus: str) -> list[dict[str, Any]]:
    return [
        {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(finding.detail()),
            "EventBusName": bus,
            "Resources": [],
        }
        for finding in findings
    ]


def eventbridge_publisher(client: Any, bus: str) -> Any:
    """A publisher over a boto3 `events` client."""

    def publish(findings: Sequence[Finding]) -> None:
        batch = entries(findings, bus)
        for start in range(0, len(batch), 10):
            reply = client.put_events(Entries=batch[start : start + 10])
            if reply.get("FailedEntryCount"):
                codes = {e.get("ErrorCode") for e in reply["Entries"] if e.get("ErrorCode")}
                raise DependencyUnavailable(
                    f"EventBridge refused {reply['FailedEntryCount']} finding(s): {codes}"
                )

    return publish

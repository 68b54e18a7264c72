"""CloudWatch Logs subscription events -> normalized security events.

A subscription delivers `{"awslogs": {"data": <base64 of gzip of JSON>}}`; Powertools'
`CloudWatchLogsEvent` decodes it (we write no decoder of our own). A CONTROL_MESSAGE (CloudWatch
checking that the destination is reachable) carries no log events. Each log event becomes at most one
security event, by the shape of its message:

- API Gateway access log lines (`json_with_standard_fields`: requestId, ip, status, ...): a 429 is
  `rate_limited`, a 403 `request_blocked`; the `ip` is the caller's address, in clear.
- WAF log lines (`aws-waf-logs-*`: action, terminatingRuleId, httpRequest.clientIp): a BLOCK by a
  rate-based rule is `rate_limited`, by the block-list rule `request_blocked`.
- Cognito user-activity lines (threat protection's userAuthEvents): a sign-in whose MFA challenge
  failed is `mfa_failed` for an admin (the pool holds only admins).
- The functions' Powertools JSON lines: `scored` with decision BLOCKED is `fraud_decision`. Their
  IPs and wallets are the log's pseudonyms (shared.observability.pii): the rules count them alike,
  the responses never act on them.

Anything else (other log lines, malformed JSON) is ignored, counted by the caller."""

from __future__ import annotations

import binascii
import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent
from aws_lambda_powertools.utilities.data_classes.cloud_watch_logs_event import CloudWatchLogsLogEvent

from shared.errors import ValidationFailed
from shared.identifiers import canonical_ip
from shared.siem.models import SecurityEvent, Severity

RATE_RULES = frozenset({"RatePerIp", "RatePerIpKeyed"})


@lru_cache(maxsize=65_536)
def _ip(value: object) -> str | None:
    # A flood repeats its few hundred addresses thousands of times: parse each once.
    return canonical_ip(value)


@dataclass
class LogBatch:
    """One subscription delivery: its log group and the security events its log events said."""

    log_group: str
    message_type: str
    log_events: int = 0
    events: list[SecurityEvent] = field(default_factory=list)

    @property
    def ignored(self) -> int:
        return self.log_events - len(self.events)


def decode_subscription(event: Any) -> LogBatch:
    """Normalize a CloudWatch Logs subscription event as Lambda receives it; ValidationFailed naming
    what is wrong when it is not one."""
    if not isinstance(event, dict) or not isinstance(event.get("awslogs"), dict):
        raise ValidationFailed(
            "not a CloudWatch Logs subscription event: no 'awslogs' object", field="awslogs"
        )
    if not isinstance(event["awslogs"].get("data"), str):
        raise ValidationFailed(
            "not a CloudWatch Logs subscription event: 'awslogs.data' is not a string", field="awslogs.data"
        )
    wrapped = CloudWatchLogsEvent(event)
    try:
        decoded = wrapped.parse_logs_data()
        message_type, log_group, log_events = decoded.message_type, decoded.log_group, decoded.log_events
    except (binascii.Error, zlib.error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            f"awslogs.data is not base64 of gzip-compressed JSON: {exc}", field="awslogs.data"
        ) from exc
    except (KeyError, TypeError) as exc:
        raise ValidationFailed(
            f"awslogs.data lacks a field of a subscription message: {exc}", field="awslogs.data"
        ) from exc
    batch = LogBatch(log_group=log_group, message_type=message_type)
    if message_type != "DATA_MESSAGE":
        return batch
    for log_event in log_events:
        batch.log_events += 1
        normalized = normalize_log_event(log_group, log_event)
        if normalized is not None:
            batch.events.append(normalized)
    return batch


def normalize_log_event(log_group: str, log_event: CloudWatchLogsLogEvent) -> SecurityEvent | None:
    message = log_event.message
    if not message or message[0] != "{":
        return None
    try:
        body = json.loads(message)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    at = datetime.fromtimestamp(log_event.timestamp / 1000, UTC)
    base = {"event_id": f"cwl:{log_event.get_id}", "source": log_group, "occurred_at": at}
    try:
        if "httpRequest" in body and "action" in body:
            return _waf(base, body)
        if "status" in body and "requestId" in body:
            return _access(base, body)
        if "eventType" in body or "userName" in body:
            return _cognito(base, body)
        if body.get("message") == "scored":
            return _scored(base, body)
    except (TypeError, ValueError, AttributeError):
        return None
    return None


def _access(base: dict[str, Any], body: dict[str, Any]) -> SecurityEvent | None:
    status = int(body["status"])
    kind = {429: "rate_limited", 403: "request_blocked"}.get(status)
    if kind is None:
        return None
    details = {k: body.get(k) for k in ("httpMethod", "resourcePath", "status", "requestId")}
    return SecurityEvent(
        **base,
        kind=kind,
        severity=Severity.LOW,
        ip=_ip(body.get("ip")) or body.get("ip"),
        details=details,
    )


def _waf(base: dict[str, Any], body: dict[str, Any]) -> SecurityEvent | None:
    if body.get("action") not in {"BLOCK", "CAPTCHA", "CHALLENGE"}:
        return None
    rule = str(body.get("terminatingRuleId", ""))
    kind = "rate_limited" if rule in RATE_RULES else "request_blocked"
    request = body["httpRequest"]
    details = {"rule": rule, "action": body.get("action"), "uri": request.get("uri")}
    return SecurityEvent(
        **base, kind=kind, severity=Severity.LOW, ip=_ip(request.get("clientIp")), details=details
    )


def _cognito(base: dict[str, Any], body: dict[str, Any]) -> SecurityEvent | None:
    text = json.dumps(body.get("challenges", body))
    if "Mfa" not in text or "Failure" not in text:
        return None
    account = body.get("userName") or body.get("userSub")
    if not account:
        return None
    ip = _ip(body.get("ipAddress") or body.get("sourceIp"))
    details = {"event_type": body.get("eventType"), "directory": "cognito"}
    return SecurityEvent(
        **base,
        kind="mfa_failed",
        severity=Severity.HIGH,
        account=f"cognito:{account}",
        ip=ip,
        is_admin=True,
        details=details,
    )


def _scored(base: dict[str, Any], body: dict[str, Any]) -> SecurityEvent | None:
    if body.get("decision") != "BLOCKED" or body.get("replayed"):
        return None
    details = {"transaction_id": body.get("transaction_id"), "reason": body.get("reason")}
    return SecurityEvent(
        **base,
        kind="fraud_decision",
        severity=Severity.MEDIUM,
        wallet=body.get("wallet"),
        ip=body.get("client_ip"),
        details=details,
    )

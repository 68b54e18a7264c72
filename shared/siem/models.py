"""The normalized security event and the finding, shared by every source, rule and response."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Severity(StrEnum):
    INFO = "INFO"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}

EventKind = Literal[
    "login_failed",  # a wrong password, an unknown account, a locked account
    "login_succeeded",
    "mfa_failed",  # the second factor refused (admins: spec alert 4)
    "session_started",
    "geo_velocity",  # one account's sessions from two countries too far apart in time
    "rate_limited",  # a request refused by a rate limit (the gateway's or the application's)
    "fraud_decision",  # a purchase the model scored BLOCKED
    "fraud_label",  # a purchase confirmed as fraud (chargeback, investigation, ban)
    "request_blocked",  # a request refused by the blocklist (WAF or the local gateway)
]

RuleName = Literal["brute_force", "fraud_ring", "ddos", "admin_mfa"]


class SecurityEvent(BaseModel):
    """One security event, whatever its source. `event_id` is derived from the source's identity (a
    CloudWatch log event id, a login attempt's id): storing or correlating it twice changes nothing.
    `ip`, `account` and `wallet` are the subjects the rules count by; a log line's subjects may be the
    log's pseudonyms (`<ip:...>`), which the rules count alike and the responses never act on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=512)
    kind: EventKind
    severity: Severity
    occurred_at: AwareDatetime
    ip: str | None = None
    account: str | None = None
    wallet: str | None = None
    is_admin: bool = False
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def epoch(self) -> float:
        return self.occurred_at.timestamp()


class Finding(BaseModel):
    """What a correlation rule concluded, stored once per `dedup_key` with its evidence."""

    model_config = ConfigDict(extra="forbid")

    finding_id: int | None = None
    dedup_key: str
    rule: RuleName
    severity: Severity
    subject_kind: Literal["ip", "account", "wallet", "admin", "ips", "instrument"]
    subject: str
    first_seen: datetime
    last_seen: datetime
    event_count: int = Field(gt=0)
    evidence: dict[str, Any]
    status: Literal["open", "handled", "dismissed"] = "open"
    created_at: datetime | None = None

    def detail(self) -> dict[str, Any]:
        """The EventBridge detail of this finding (what the SOAR function receives)."""
        return self.model_dump(mode="json")

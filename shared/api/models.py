"""Request and response models of the API (the shapes of shared/api/openapi.yaml, as pydantic)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.errors import ValidationFailed

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
MAX_PRICE_USD = 1_000_000
MAX_TICKET_ID = 2**53 - 1  # JSON-safe integer; chain token ids of this marketplace are far below
MAX_METRICS_WINDOW = timedelta(days=31)


class Decision(StrEnum):
    APPROVED = "APPROVED"
    REQUIRE_2FA = "REQUIRE_2FA"
    MANUAL_REVIEW = "MANUAL_REVIEW"
    BLOCKED = "BLOCKED"


class Reason(StrEnum):
    MODEL = "model"
    BLOCKLIST_WALLET = "blocklist_wallet"
    BLOCKLIST_IP = "blocklist_ip"
    FAIL_OPEN = "fail_open"


def normalize_wallet(value: str) -> str:
    """Lowercase form of a 20-byte hex address that is all lowercase or a valid EIP-55 checksum."""
    if not _HEX_ADDRESS.match(value):
        raise ValueError("must be a 0x-prefixed 20-byte hex address (40 hex digits)")
    body = value[2:]
    if body != body.lower():
        from eth_utils import is_checksum_address  # keccak; only paid for mixed-case input

        if not is_checksum_address(value):
            raise ValueError("mixed-case address with an invalid EIP-55 checksum")
    return value.lower()


class PredictRequest(BaseModel):
    """POST /api/v1/ml/predict/fraud (spec 1.6). Strict: no type coercion, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    transaction_id: Annotated[
        str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    ]
    wallet_address: str
    ticket_id: Annotated[int, Field(ge=1, le=MAX_TICKET_ID)]
    price_paid: Annotated[float, Field(ge=0, le=MAX_PRICE_USD, allow_inf_nan=False)]

    @field_validator("wallet_address")
    @classmethod
    def _wallet(cls, value: str) -> str:
        return normalize_wallet(value)


class PredictResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transaction_id: str
    fraud_score: float | None = Field(None, ge=0, le=1)
    decision: Decision
    confidence: float = Field(ge=0, le=1)
    top_features: dict[str, float | None]
    model_version: str
    reason: Reason
    degraded: bool
    replayed: bool
    scored_at: datetime


class MetricsQuery(BaseModel):
    """Query string of GET /api/v1/metrics: the window [start, end), UTC."""

    model_config = ConfigDict(extra="forbid")

    start: datetime | None = None
    end: datetime | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _rfc3339(cls, value: object) -> datetime | None:
        """RFC 3339 date-time with an offset only: no epoch numbers, no dates, no naive times."""
        if value is None:
            return None
        if not isinstance(value, str) or not _RFC3339.match(value):
            raise ValueError("must be an RFC 3339 date-time with offset, e.g. 2026-11-23T00:00:00Z")
        try:
            parsed = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            raise ValueError("is not a real date and time") from None
        return parsed.astimezone(UTC)

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The resolved window; defaults: end = now, start = end - 24 h."""
        end = self.end or now or datetime.now(UTC)
        start = self.start or end - timedelta(hours=24)
        if start >= end:
            raise ValidationFailed("start must be before end", field="start")
        if end - start > MAX_METRICS_WINDOW:
            raise ValidationFailed("the window may span at most 31 days", field="start")
        return start, end


class DependencyStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["up", "down", "not_configured"]
    latency_ms: float | None = None
    detail: str | None = None
    version: str | None = None


class HealthChecks(BaseModel):
    postgres: DependencyStatus
    redis: DependencyStatus
    chain: DependencyStatus
    model: DependencyStatus


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded", "down"]
    checks: HealthChecks

    def anonymous(self) -> HealthResponse:
        """What GET /health tells anyone: the same shape, each dependency's status only (version,
        latency and detail null); the full report is GET /health/details, behind an API key."""
        statuses = {name: {"status": check["status"]} for name, check in self.checks.model_dump().items()}
        return HealthResponse(status=self.status, checks=HealthChecks.model_validate(statuses))

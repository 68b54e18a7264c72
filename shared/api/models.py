"""Request and response models of the API (the shapes of shared/api/openapi.yaml, as pydantic)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import ValidationFailed
from shared.identifiers import canonical_transaction_id, canonical_wallet

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
MAX_PRICE_USD = 1_000_000
MAX_TICKET_ID = 2**53 - 1  # JSON-safe integer; chain token ids of this marketplace are far below
MAX_METRICS_WINDOW = timedelta(days=31)
# The instants a metrics window may name: wide enough for any real query, narrow enough that the
# window arithmetic (a default start 24 h before the end, a conversion to UTC) never overflows.
EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9999, 12, 30, tzinfo=UTC)


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


class PredictRequest(BaseModel):
    """POST /api/v1/ml/predict/fraud (spec 1.6). Strict: no type coercion, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    transaction_id: str
    wallet_address: str
    ticket_id: Annotated[int, Field(ge=1, le=MAX_TICKET_ID)]
    price_paid: Annotated[float, Field(ge=0, le=MAX_PRICE_USD, allow_inf_nan=False)]

    @field_validator("transaction_id")
    @classmethod
    def _transaction_id(cls, value: str) -> str:
        return canonical_transaction_id(value)

    @field_validator("wallet_address")
    @classmethod
    def _wallet(cls, value: str) -> str:
        return canonical_wallet(value)


# How the application rate limits were applied to a request: exactly (shared windows in Redis),
# approximately (Redis unavailable: this process's own windows), or not at all (switched off).
RateLimitMode = Literal["exact", "approximate", "off"]


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
    rate_limits: RateLimitMode = "exact"


_OUT_OF_RANGE = "must lie between 1970-01-01T00:00:00Z and 9999-12-30T00:00:00Z"


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
        if not isinstance(value, str) or _RFC3339.fullmatch(value) is None:
            raise ValueError("must be an RFC 3339 date-time with offset, e.g. 2026-11-23T00:00:00Z")
        try:
            parsed = datetime.fromisoformat(value.replace("z", "Z")).astimezone(UTC)
        except ValueError:
            raise ValueError("is not a real date and time") from None
        except OverflowError:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
            raise ValueError(_OUT_OF_RANGE) from None
        if not EARLIEST_INSTANT <= parsed <= LATEST_INSTANT:
            raise ValueError(_OUT_OF_RANGE)
        return parsed

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

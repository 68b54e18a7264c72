"""Request and response models of the API (the shapes of shared/api/openapi.yaml, as pydantic).

The bodies that are domain types live with their room (scoring's purchase and decision, health's
report) and are re-exported here; what is HTTP only (the metrics query string) is defined here."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import ValidationFailed
from shared.health.models import DependencyStatus, HealthChecks, HealthResponse
from shared.scoring.types import (
    MAX_PRICE_USD,
    MAX_TICKET_ID,
    Decision,
    PredictRequest,
    PredictResponse,
    RateLimitMode,
    Reason,
)

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
MAX_METRICS_WINDOW = timedelta(days=31)
# The instants a metrics window may name: wide enough for any real query, narrow enough that the
# window arithmetic (a default start 24 h before the end, a conversion to UTC) never overflows.
EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9999, 12, 30, tzinfo=UTC)


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


class BatchPath(BaseModel):
    """Path of GET /api/v1/events/batches/{batch_id}: the id POST /api/v1/events answered."""

    model_config = ConfigDict(extra="forbid")

    batch_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")


__all__ = [
    "MAX_PRICE_USD",
    "MAX_TICKET_ID",
    "BatchPath",
    "Decision",
    "DependencyStatus",
    "HealthChecks",
    "HealthResponse",
    "MetricsQuery",
    "PredictRequest",
    "PredictResponse",
    "RateLimitMode",
    "Reason",
]

"""Request and response models of the API (the shapes of shared/api/openapi.yaml, as pydantic).

The bodies that are domain types live with their room (scoring's purchase and decision, health's
report) and are re-exported here; what is HTTP only (the metrics query string) is defined here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import ValidationFailed
from shared.health.models import DependencyStatus, HealthChecks, HealthResponse
from shared.instants import EARLIEST, AwareInstant
from shared.scoring.types import (
    MAX_PRICE_USD,
    MAX_TICKET_ID,
    Decision,
    PredictRequest,
    PredictResponse,
    RateLimitMode,
    Reason,
)

MAX_METRICS_WINDOW = timedelta(days=31)
DEFAULT_METRICS_WINDOW = timedelta(hours=24)


class MetricsQuery(BaseModel):
    """Query string of GET /api/v1/metrics: the window [start, end), each an Instant (a zone, 1970-01-01
    to 9999-12-30, to the nanosecond; no epoch numbers, no dates, no naive times)."""

    model_config = ConfigDict(extra="forbid")

    start: AwareInstant | None = None
    end: AwareInstant | None = None

    @classmethod
    def from_event(cls, event: APIGatewayProxyEvent) -> MetricsQuery:
        """The query of a proxy event; a parameter given twice is refused (which one would count?)."""
        for name, values in (event.get("multiValueQueryStringParameters") or {}).items():
            if len(values or ()) > 1:
                raise ValidationFailed(f"{name} is given {len(values)} times: give it once", field=name)
        return cls.model_validate(event.get("queryStringParameters") or {})

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The resolved window, compared to the nanosecond; defaults: end = now, start = end - 24 h."""
        end = self.end or now or datetime.now(UTC)
        start = self.start or end - DEFAULT_METRICS_WINDOW
        if start < EARLIEST:
            raise ValidationFailed(
                f"the window would start at {start.isoformat()}, before 1970-01-01T00:00:00Z "
                "(start defaults to 24 h before end): give a later end or a start",
                field="end",
            )
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

"""What the health checks report, per dependency and overall (the body of GET /health and
GET /health/details)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


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

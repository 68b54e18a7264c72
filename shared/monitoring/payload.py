"""The two JSON payloads of the monitoring page (GET /api/v1/admin/monitoring/live, every 5 seconds;
GET /api/v1/admin/monitoring/aggregates, every minute), each section from its own module."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import redis

from shared.monitoring.fraud import fraud_section
from shared.monitoring.kpis import hourly_series, kpi_section
from shared.monitoring.model import drift_section, quality_section
from shared.monitoring.pricing import pricing_section
from shared.monitoring.security import security_section
from shared.monitoring.system import system_section
from shared.monitoring.traffic import traffic_section

LIVE_REFRESH_S = 5
AGGREGATES_REFRESH_S = 60


def live_payload(
    conn: psycopg.Connection,
    client: redis.Redis | None,
    *,
    severities: tuple[str, ...],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Sections 1, 2, 3, 5 and 6: what moves by the second."""
    now = now or datetime.now(UTC)
    return {
        "generated_at": now.isoformat(),
        "refresh_seconds": LIVE_REFRESH_S,
        "kpis": kpi_section(conn, now),
        "fraud": fraud_section(conn, now),
        "traffic": traffic_section(client, now),
        "system": system_section(conn, client),
        "security": security_section(conn, client, now, severities),
    }


def aggregates_payload(
    conn: psycopg.Connection, client: redis.Redis | None, *, now: datetime | None = None
) -> dict[str, Any]:
    """Section 4, the pricing experiment (section 7) and the hourly KPI series: what is aggregated over
    hours and days, or changes hourly (the experiment's rewards settle every hour)."""
    now = now or datetime.now(UTC)
    return {
        "generated_at": now.isoformat(),
        "refresh_seconds": AGGREGATES_REFRESH_S,
        "kpi_hourly": hourly_series(conn, now),
        "model_quality": quality_section(conn, now),
        "drift": drift_section(conn, client, now),
        "pricing": pricing_section(conn),
    }

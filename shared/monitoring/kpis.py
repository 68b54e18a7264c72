"""Section 1 of the monitoring page (spec 4.1): the key figures. Transactions/hour, fraud rate, p95
latency and revenue/hour as GET /api/v1/metrics computes them (shared.kpis.report), over the last
hour (live) and the last 24 hours; the five KPIs of the last 24 hours; and, refreshed each minute, the
hourly series of the last 7 days from the dashboard view intel.kpi_hourly (spec 2.3, refreshed every
5 minutes by the refresh-views job)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from shared.kpis.kpis import compute_kpis
from shared.kpis.report import operational_figures

_HOURLY_SQL = """
SELECT hour, total_transactions, total_fees::float8, avg_fraud_score::float8, blocked_count, flagged_count
  FROM intel.kpi_hourly
 WHERE hour > %(start)s AND hour <= %(end)s
 ORDER BY hour
"""


def kpi_section(conn: psycopg.Connection, now: datetime) -> dict[str, Any]:
    day = now - timedelta(hours=24)
    five = compute_kpis(conn, day, now)
    return {
        "last_hour": operational_figures(conn, now - timedelta(hours=1), now),
        "last_24h": operational_figures(conn, day, now),
        "kpis_24h": {
            "fraud_detection_rate": five.fraud_detection_rate,
            "false_positive_rate": five.false_positive_rate,
            "resale_velocity_hours": five.ticket_resale_velocity_hours,
            "user_engagement_score": five.user_engagement_score,
            "revenue_per_hour": five.revenue_per_hour,
        },
    }


def hourly_series(conn: psycopg.Connection, now: datetime, days: int = 7) -> list[dict[str, Any]]:
    rows = conn.execute(_HOURLY_SQL, {"start": now - timedelta(days=days), "end": now}).fetchall()
    return [
        {
            "hour": hour.isoformat(),
            "transactions": int(transactions),
            "fees": round(fees or 0.0, 2),
            "mean_score": None if score is None else round(score, 4),
            "blocked": int(blocked),
            "flagged": int(flagged),
            "flagged_percent": round(100.0 * int(flagged) / int(transactions), 2) if transactions else None,
        }
        for hour, transactions, fees, score, blocked, flagged in rows
    ]

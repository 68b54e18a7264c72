"""The payload of GET /api/v1/metrics: the five KPIs (shared.kpis), the operational figures of the
dashboard's first section (spec 4.1): transactions/hour, fraud rate, p95 latency, revenue/hour, and
the model quality per version (section 4: precision, recall, detection rate, FPR, confusion matrix)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from shared.kpis.kpis import compute_kpis
from shared.kpis.quality import QUALITY_LABEL_DELAY, quality_by_version

# KpiReport field -> our response name, for the names that differ.
_KPI_ALIASES = {"ticket_resale_velocity_hours": "resale_velocity_hours"}
KPI_NAMES = (
    "fraud_detection_rate",
    "false_positive_rate",
    "resale_velocity_hours",
    "user_engagement_score",
    "revenue_per_hour",
)


def _kpis(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, Any]:
    raw = compute_kpis(conn, start, end).model_dump(mode="json")
    kpis: dict[str, Any] = {}
    for name, value in raw.items():
        if name in {"start", "end"}:  # the response's `window` says it once
            continue
        kpis[_KPI_ALIASES.get(name, name)] = value
    for name in KPI_NAMES:
        kpis.setdefault(name, None)
    return kpis


def operational_figures(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, Any]:
    hours = (end - start).total_seconds() / 3600
    txn_count, fees = conn.execute(
        """SELECT count(*), coalesce(sum(fee), 0)::float8
             FROM intel.transactions WHERE occurred_at >= %s AND occurred_at < %s""",
        (start, end),
    ).fetchone() or (0, 0.0)
    rows = conn.execute(
        """SELECT decision, count(*) FROM intel.fraud_predictions
            WHERE created_at >= %s AND created_at < %s GROUP BY decision""",
        (start, end),
    ).fetchall()
    decisions = {str(decision): int(count) for decision, count in rows}
    predictions = sum(decisions.values())
    p95_row = conn.execute(
        """SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
             FROM intel.fraud_predictions
            WHERE created_at >= %s AND created_at < %s AND latency_ms IS NOT NULL""",
        (start, end),
    ).fetchone()
    flagged = decisions.get("BLOCKED", 0) + decisions.get("MANUAL_REVIEW", 0)
    return {
        # hours is 0 for a window shorter than a microsecond (instants are read to the nanosecond):
        # no row fits in it, so no rate either
        "transactions_per_hour": round(int(txn_count) / hours, 4) if hours else 0.0,
        "fraud_rate_percent": round(100.0 * flagged / predictions, 4) if predictions else None,
        "p95_latency_ms": round(float(p95_row[0]), 3) if p95_row and p95_row[0] is not None else None,
        "revenue_per_hour": round(float(fees) / hours, 2) if hours else 0.0,
        "predictions": predictions,
        "decisions": decisions,
    }


def metrics_report(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "window": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "hours": round((end - start).total_seconds() / 3600, 4),
        },
        "kpis": _kpis(conn, start, end),
        "operational": operational_figures(conn, start, end),
        "model_quality": model_quality(conn, start, end),
    }


def model_quality(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, Any]:
    """Each model version's quality over the decisions of the window, with the labels known now;
    `settled` says whether the window ended QUALITY_LABEL_DELAY ago (shared.kpis.quality)."""
    now = datetime.now(UTC)
    versions = []
    for row in quality_by_version(conn, start, end, known_at=now):
        counts = row.counts.model_dump()
        versions.append(
            {
                "model_version": row.model_version,
                "role": row.role,
                **{
                    name: counts[name]
                    for name in ("precision", "recall", "detection_rate", "false_positive_rate")
                },
                "confusion": {
                    name: counts[name]
                    for name in ("true_positive", "false_positive", "true_negative", "false_negative")
                },
                "scored": counts["scored"],
                "labelled_frauds": counts["frauds"],
            }
        )
    return {
        "label_delay_hours": int(QUALITY_LABEL_DELAY.total_seconds() // 3600),
        "settled": end <= now - QUALITY_LABEL_DELAY,
        "versions": versions,
    }

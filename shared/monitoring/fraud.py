"""Section 2 of the monitoring page (spec 4.1): real-time fraud detection. The scores of the decisions
stored in intel.fraud_predictions: their distribution (tenths of the score, and each hour's decisions
as a time series) and the latest high-risk transactions (MANUAL_REVIEW or BLOCKED)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from shared.config import get_thresholds

DECISIONS = ("APPROVED", "REQUIRE_2FA", "MANUAL_REVIEW", "BLOCKED")
HIGH_RISK = ("MANUAL_REVIEW", "BLOCKED")
SERIES_HOURS = 24
HIGH_RISK_ROWS = 15

_HISTOGRAM_SQL = """
SELECT least(9, floor(fraud_score * 10))::int AS tenth, count(*)
  FROM intel.fraud_predictions
 WHERE created_at > %(start)s AND created_at <= %(end)s AND fraud_score IS NOT NULL
 GROUP BY 1
"""

_SERIES_SQL = """
SELECT date_trunc('hour', created_at) AS hour, decision, count(*), avg(fraud_score)::float8
  FROM intel.fraud_predictions
 WHERE created_at > %(start)s AND created_at <= %(end)s
 GROUP BY 1, 2 ORDER BY 1
"""

# The wallet and ticket as stored; the client IP is stored only as its hash (never shown).
_HIGH_RISK_SQL = """
SELECT transaction_id, wallet_address, ticket_id, price_paid::float8, fraud_score, decision, reason,
       top_features, model_version, created_at
  FROM intel.fraud_predictions
 WHERE decision IN ('MANUAL_REVIEW', 'BLOCKED') AND created_at <= %(end)s
 ORDER BY created_at DESC, prediction_id DESC
 LIMIT %(limit)s
"""


def score_histogram(conn: psycopg.Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Ten buckets [0, 0.1) ... [0.9, 1], each with its count (zero included)."""
    counts: dict[int, int] = {
        int(tenth): int(n) for tenth, n in conn.execute(_HISTOGRAM_SQL, {"start": start, "end": end})
    }
    return [
        {"from": tenth / 10, "to": (tenth + 1) / 10, "count": int(counts.get(tenth, 0))}
        for tenth in range(10)
    ]


def decision_series(
    conn: psycopg.Connection, end: datetime, hours: int = SERIES_HOURS
) -> list[dict[str, Any]]:
    """One row per clock hour of the last `hours` (empty hours included): the count per decision and
    the mean score."""
    last = end.replace(minute=0, second=0, microsecond=0)
    slots = [last - timedelta(hours=back) for back in range(hours - 1, -1, -1)]
    rows: dict[datetime, dict[str, Any]] = {
        hour: {"hour": hour.isoformat(), **dict.fromkeys(DECISIONS, 0), "mean_score": None} for hour in slots
    }
    weights: dict[datetime, tuple[float, int]] = {}
    for hour, decision, count, mean in conn.execute(_SERIES_SQL, {"start": slots[0], "end": end}):
        row = rows.get(hour)
        if row is None or decision not in DECISIONS:
            continue
        row[decision] = int(count)
        if mean is not None:
            total, seen = weights.get(hour, (0.0, 0))
            weights[hour] = (total + float(mean) * int(count), seen + int(count))
    for hour, (total, seen) in weights.items():
        rows[hour]["mean_score"] = round(total / seen, 4) if seen else None
    return list(rows.values())


def _top_feature(top_features: Any) -> str | None:
    """The stored top feature with the largest contribution ({feature: contribution})."""
    if isinstance(top_features, dict) and top_features:
        numbers = {k: abs(v) for k, v in top_features.items() if isinstance(v, int | float)}
        return max(numbers, key=numbers.__getitem__) if numbers else str(next(iter(top_features)))
    return None


def high_risk(conn: psycopg.Connection, end: datetime, limit: int = HIGH_RISK_ROWS) -> list[dict[str, Any]]:
    """The latest high-risk decisions, newest first."""
    rows = conn.execute(_HIGH_RISK_SQL, {"end": end, "limit": limit}).fetchall()
    return [
        {
            "transaction_id": tx,
            "wallet_address": wallet,
            "ticket_id": ticket,
            "price_paid": price,
            "fraud_score": None if score is None else round(float(score), 4),
            "decision": decision,
            "reason": reason,
            "top_feature": _top_feature(top),
            "model_version": version,
            "at": at.isoformat(),
        }
        for tx, wallet, ticket, price, score, decision, reason, top, version, at in rows
    ]


def fraud_section(conn: psycopg.Connection, end: datetime) -> dict[str, Any]:
    thresholds = get_thresholds()
    start = end - timedelta(hours=SERIES_HOURS)
    return {
        "window_hours": SERIES_HOURS,
        "thresholds": {
            "two_factor": thresholds.two_factor,
            "review": thresholds.review,
            "block": thresholds.block,
        },
        "histogram": score_histogram(conn, start, end),
        "series": decision_series(conn, end),
        "high_risk": high_risk(conn, end),
    }

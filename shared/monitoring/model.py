"""Section 4 of the monitoring page (spec 4.1): model performance. The confusion matrix, precision and
recall of the last 24 hours' decisions per model version (shared.kpis.quality, the labels known now),
and the feature drift's weekly trend: the served model's KL divergence (shared.model.drift, the
measurement the features job alarms on, > 0.15) over each of the last 7 whole UTC days and the
24 hours ending now. A whole day's drift does not change once the day is over: it is kept in Redis
for DRIFT_CACHE_TTL_S, so the page measures each past day once, not every minute."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import redis

from shared.cache.keys import MONITORING_DRIFT
from shared.jobs.model_ops import DRIFT_RETRAIN_KL
from shared.jobs.scheduled import model_drift
from shared.kpis.quality import QUALITY_LABEL_DELAY, QUALITY_WINDOW, quality_by_version

DRIFT_DAYS = 7
DRIFT_CACHE_TTL_S = 8 * 86_400


def quality_section(conn: psycopg.Connection, now: datetime) -> dict[str, Any]:
    start = now - QUALITY_WINDOW
    versions: list[dict[str, Any]] = []
    for row in quality_by_version(conn, start, now, known_at=now):
        counts = row.counts
        versions.append(
            {
                "model_version": row.model_version,
                "role": row.role,
                "scored": counts.scored,
                "labelled_frauds": counts.frauds,
                "precision": counts.precision,
                "recall": counts.recall,
                "false_positive_rate": counts.false_positive_rate,
                "confusion": {
                    "true_positive": counts.true_positive,
                    "false_positive": counts.false_positive,
                    "true_negative": counts.true_negative,
                    "false_negative": counts.false_negative,
                },
            }
        )
    versions.sort(key=lambda v: (v["role"] != "served", -int(v["scored"])))
    return {
        "window_hours": int(QUALITY_WINDOW.total_seconds() // 3600),
        "label_delay_hours": int(QUALITY_LABEL_DELAY.total_seconds() // 3600),
        "positive": "BLOCKED or MANUAL_REVIEW",
        "versions": versions,
    }


def _drift_point(conn: psycopg.Connection, end: datetime) -> dict[str, Any]:
    report = model_drift(conn, end)
    return {
        "end": end.isoformat(),
        "status": report.status,
        "kl_max": None if report.kl_max is None else round(report.kl_max, 5),
        "feature": report.kl_max_feature,
        "rows": report.rows,
        "model_version": report.model_version,
    }


def _cached_point(
    conn: psycopg.Connection, client: redis.Redis | None, version: str | None, end: datetime
) -> dict[str, Any]:
    """A past day's point, from Redis when measured before for the served version."""
    if client is None or version is None:
        return _drift_point(conn, end)
    key = MONITORING_DRIFT.key(f"{version}:{end.strftime('%Y%m%d')}")
    with contextlib.suppress(redis.RedisError, OSError, ValueError):
        cached = client.get(key)
        if cached:
            point: dict[str, Any] = json.loads(cached)
            return point
    point = _drift_point(conn, end)
    if point["status"] in ("measured", "insufficient_data") and point["model_version"] == version:
        with contextlib.suppress(redis.RedisError, OSError):
            client.set(key, json.dumps(point), ex=DRIFT_CACHE_TTL_S)
    return point


def drift_section(conn: psycopg.Connection, client: redis.Redis | None, now: datetime) -> dict[str, Any]:
    current = _drift_point(conn, now)
    served = current.get("model_version")
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    ends = [midnight - timedelta(days=back) for back in range(DRIFT_DAYS - 1, -1, -1)]
    return {
        "threshold": DRIFT_RETRAIN_KL,
        "served_version": served,
        "days": [_cached_point(conn, client, served, end) for end in ends],
        "current": current,
    }

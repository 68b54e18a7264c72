"""Section 4 of the monitoring page (spec 4.1): model performance. The confusion matrix, precision and
recall of the last 24 hours' decisions per model version (shared.kpis.quality, the labels known now),
and the feature drift's weekly trend: the served model's KL divergence (shared.model.drift, the
measurement the features job alarms on, > 0.15) over each of the last 7 whole UTC days and the
24 hours ending now, measured on a systematic sample of each window's decisions (DRIFT_SAMPLE_ROWS).
A whole day's drift does not change once the day is over: it is kept in Redis for DRIFT_CACHE_TTL_S, so
the page measures each past day once, not every minute; the 24 hours ending now at most every
CURRENT_CACHE_TTL_S; and one call measures at most MEASUREMENTS_PER_CALL windows."""

from __future__ import annotations

import contextlib
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import redis

from shared.cache.keys import MONITORING_DRIFT
from shared.config import get_settings
from shared.errors import TicketGuardError
from shared.jobs.model_ops import DRIFT_RETRAIN_KL
from shared.kpis.quality import QUALITY_LABEL_DELAY, QUALITY_WINDOW, quality_by_version
from shared.model import resolve_model_dir
from shared.model.drift import measure_drift
from shared.model.manifest import Manifest, read_manifest
from shared.scoring.types import Reason

DRIFT_DAYS = 7
DRIFT_CACHE_TTL_S = 8 * 86_400
CURRENT_CACHE_TTL_S = 600
# Each measurement reads a day of decisions' features (200,000 rows at the spec's volume): a call
# measures at most this many, so that a cold cache never holds a request near API Gateway's 29 s.
MEASUREMENTS_PER_CALL = 2
# ... and reads about this many of them (one in `ceil(rows / DRIFT_SAMPLE_ROWS)`, by id): the estimate's
# upward bias is about (buckets - 1) / (2 n) nats, 0.001 at 5,000 rows, against the 0.15 alarm.
DRIFT_SAMPLE_ROWS = 5_000


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


_WINDOW_ROWS_SQL = """
SELECT count(*) FROM intel.fraud_predictions
 WHERE reason = %s AND model_version = %s AND created_at > %s AND created_at <= %s
"""


def _drift_point(conn: psycopg.Connection, manifest: Manifest | None, end: datetime) -> dict[str, Any]:
    """The served model's drift over the 24 hours ending at `end`, as the features job measures it
    (shared.model.drift), on a systematic sample of at most about DRIFT_SAMPLE_ROWS decisions."""
    point: dict[str, Any] = {"end": end.isoformat(), "kl_max": None, "feature": None, "rows": 0}
    if manifest is None or manifest.feature_reference is None:
        status = "no_model" if manifest is None else "no_reference"
        return point | {"status": status, "model_version": manifest and manifest.version, "sampled_every": 1}
    settings = get_settings()
    window = timedelta(hours=settings.drift_window_hours)
    args = (Reason.MODEL.value, manifest.version, end - window, end)
    found = conn.execute(_WINDOW_ROWS_SQL, args).fetchone()
    every = max(1, math.ceil((int(found[0]) if found else 0) / DRIFT_SAMPLE_ROWS))
    report = measure_drift(
        conn,
        manifest.feature_reference,
        manifest.version,
        end=end,
        window=window,
        min_rows=min(settings.drift_min_rows, DRIFT_SAMPLE_ROWS),
        reason=Reason.MODEL.value,
        every=every,
    )
    return point | {
        "status": report.status,
        "kl_max": None if report.kl_max is None else round(report.kl_max, 5),
        "feature": report.kl_max_feature,
        "rows": report.rows,
        "sampled_every": every,
        "model_version": report.model_version,
    }


def _served_manifest() -> Manifest | None:
    try:
        return read_manifest(resolve_model_dir())
    except TicketGuardError:  # no model, or an unreadable one
        return None


def _cached(client: redis.Redis | None, key: str) -> dict[str, Any] | None:
    if client is None:
        return None
    with contextlib.suppress(redis.RedisError, OSError, ValueError):
        cached = client.get(key)
        if cached:
            point: dict[str, Any] = json.loads(cached)
            return point
    return None


def _keep(client: redis.Redis | None, key: str, point: dict[str, Any], ttl_s: int) -> None:
    if client is not None and point["status"] in ("measured", "insufficient_data"):
        with contextlib.suppress(redis.RedisError, OSError):
            client.set(key, json.dumps(point), ex=ttl_s)


def drift_section(conn: psycopg.Connection, client: redis.Redis | None, now: datetime) -> dict[str, Any]:
    """The trend: each point from Redis, else measured while this call's budget lasts (the 24 hours
    ending now first, then the newest days), else `pending` until a later call."""
    manifest = _served_manifest()
    served = manifest.version if manifest else None
    budget = MEASUREMENTS_PER_CALL
    current_key = MONITORING_DRIFT.key(f"{served}:current")
    current = _cached(client, current_key)
    if current is None:
        current, budget = _drift_point(conn, manifest, now), budget - 1
        _keep(client, current_key, current, CURRENT_CACHE_TTL_S)
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days: list[dict[str, Any]] = []
    for end in (midnight - timedelta(days=back) for back in range(DRIFT_DAYS)):  # newest first
        key = MONITORING_DRIFT.key(f"{served}:{end.strftime('%Y%m%d')}")
        point = _cached(client, key)
        if point is None and budget > 0:
            point, budget = _drift_point(conn, manifest, end), budget - 1
            _keep(client, key, point, DRIFT_CACHE_TTL_S)
        days.append(point or {"end": end.isoformat(), "status": "pending", "kl_max": None, "feature": None,
                               "rows": 0, "model_version": served})  # fmt: skip
    return {"threshold": DRIFT_RETRAIN_KL, "served_version": served, "days": days[::-1], "current": current}

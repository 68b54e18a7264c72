"""The scheduled jobs as one call each, for the Lambda handlers, the CLI and the local runner:
open what they need from Settings, run, return a JSON-able summary."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from shared.errors import ValidationFailed
from shared.observability import logger

if TYPE_CHECKING:
    import psycopg

    from shared.model.drift import DriftReport


class ScheduledJob(BaseModel):
    """An EventBridge scheduled event (`detail`) or a rule target's constant input, e.g.
    {"mode": "daily"}; both shapes are accepted, nothing else."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    mode: Literal["hourly", "daily"] = "hourly"
    since: datetime | None = None
    as_of: datetime | None = None
    # EventBridge's `time`: when the rule fired. The feature snapshots follow it, not the clock,
    # so a delayed or retried invocation still writes its own slot's snapshot.
    scheduled_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("detail-type") == "Scheduled Event":
            detail = value.get("detail")
            detail = {} if detail is None else detail
            if not isinstance(detail, dict):
                raise ValueError("detail must be an object")
            return {**detail, "scheduled_at": value.get("time")}
        return value


def parse_job(event: Any) -> ScheduledJob:
    try:
        job = ScheduledJob.model_validate(event if event is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        raise ValidationFailed(f"invalid job event: {where}: {first['msg']}", field=where) from None
    for name in ("since", "as_of", "scheduled_at"):
        value = getattr(job, name)
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{name} must carry a timezone", field=name)
    return job


def _redis() -> Any:
    from shared.config import get_settings

    url = get_settings().redis_url
    if not url:
        return None
    import redis

    return redis.Redis.from_url(url, socket_timeout=get_settings().redis_timeout_s)


def etl_job(job: ScheduledJob) -> dict[str, Any]:
    from shared.db import connect
    from shared.etl.pipeline import default_log_source, run_etl_incremental

    with connect(statement_timeout_ms=600_000) as conn:
        summary = run_etl_incremental(conn, mode=job.mode, log_source=default_log_source(), since=job.since)
    return summary.as_dict()


def feature_job(job: ScheduledJob) -> dict[str, Any]:
    """The feature tables brought to the job's time, then the served model's drift up to that time
    (`drift`: per-feature KL and the maximum, or why there is none)."""
    from shared.db import connect
    from shared.features.batch import run_feature_job

    with connect(statement_timeout_ms=600_000) as conn:
        summary = run_feature_job(conn, job.mode, as_of=job.as_of or job.scheduled_at, redis=_redis())
        drift = _drift_after_features(conn, summary.as_of)
    return {
        "mode": summary.mode,
        "as_of": summary.as_of.isoformat(),
        "snapshots": {cadence: at.isoformat() for cadence, at in summary.snapshots.items()},
        "rows_written": summary.rows_written,
        "cache_keys_invalidated": summary.cache_keys_invalidated,
        "seconds": round(summary.seconds, 3),
        "drift": drift.model_dump(mode="json"),
    }


def _drift_after_features(conn: psycopg.Connection, end: datetime) -> DriftReport:
    """Never raises: the feature tables are written by now, and a failed invocation would be retried
    (EventBridge async, 2 retries), rerunning the whole job for the sake of a monitoring figure."""
    from shared.model.drift import DriftReport

    try:
        return model_drift(conn, end)
    except Exception as exc:
        logger.exception("model drift not measured")
        return DriftReport(status="failed", detail=f"{type(exc).__name__}: {exc}")


def model_drift(conn: psycopg.Connection, end: datetime) -> DriftReport:
    """Drift of the served model (Settings.model_dir: /opt/model on Lambda, else the registry's
    CURRENT) over the drift window ending at `end`; no model or a model without a feature reference
    is reported, not raised."""
    from datetime import timedelta

    from shared.config import get_settings
    from shared.errors import ConfigurationError
    from shared.model import resolve_model_dir
    from shared.model.drift import DriftReport, measure_drift
    from shared.model.manifest import read_manifest

    settings = get_settings()
    try:
        manifest = read_manifest(resolve_model_dir())
    except ConfigurationError as exc:
        return DriftReport(status="no_model", detail=exc.message)
    if manifest.feature_reference is None:
        return DriftReport(
            status="no_reference",
            detail=f"model {manifest.version} has no feature_reference in its manifest: retrain to measure drift",
            model_version=manifest.version,
        )
    return measure_drift(
        conn,
        manifest.feature_reference,
        manifest.version,
        end=end,
        window=timedelta(hours=settings.drift_window_hours),
        min_rows=settings.drift_min_rows,
    )


def refresh_job() -> dict[str, Any]:
    from datetime import UTC, timedelta

    from shared.db import connect
    from shared.kpis.kpis import confusion_counts
    from shared.kpis.views import refresh_views

    with connect(statement_timeout_ms=300_000) as conn:
        summary = refresh_views(conn)
        now = datetime.now(UTC)
        confusion = confusion_counts(conn, now - timedelta(hours=24), now)
    return {
        "confusion_24h": confusion.model_dump(),
        "refreshed": summary.refreshed,
        "skipped_busy": summary.skipped_busy,
        "rows": summary.rows,
        "seconds": {k: round(v, 3) for k, v in summary.seconds.items()},
    }

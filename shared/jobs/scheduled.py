"""The scheduled jobs as one call each, for the Lambda handlers, the CLI and the local runner: open
what they need from Settings, run, return a JSON-able summary. The jobs room orchestrates the rooms
below it (ETL, features, KPIs, model drift); none of them knows about another's schedule."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from shared.config import get_settings
from shared.db import connect
from shared.db.timeouts import STATEMENT_TIMEOUT_MS
from shared.errors import ConfigurationError
from shared.features.batch import run_feature_job
from shared.jobs.events import ScheduledJob
from shared.kpis.kpis import confusion_counts
from shared.kpis.views import refresh_views
from shared.model import resolve_model_dir
from shared.model.drift import DriftReport, measure_drift
from shared.model.manifest import read_manifest
from shared.observability import logger
from shared.scoring.types import Reason

if TYPE_CHECKING:
    # The ETL brings web3 (about 2 s of imports): only the jobs that read the chain load it.
    from shared.etl.chain import LogSource
    from shared.etl.pipeline import EtlSummary


def _redis() -> Any:
    from shared.cache.clients import job_redis

    return job_redis()


def etl_job(job: ScheduledJob) -> dict[str, Any]:
    """The ETL of the backend tables, and of the chain when one is configured; without one it says so
    (a warning here, `chain: null` in the summary, which the handler counts as EtlChainSkipped)."""
    from shared.etl.pipeline import default_log_source, run_etl_incremental

    log_source = default_log_source()
    if log_source is None:
        logger.warning(
            "ETL without the chain: CHAIN_RPC_URL is not set (deployed: no TG_CHAIN_RPC_URL_PARAMETER, "
            "the environment's chain_ingestion is off); on-chain sales and transfers are not loaded",
            extra={"chain_ingestion": False},
        )
    with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS["etl"]) as conn:
        summary = run_etl_incremental(conn, mode=job.mode, log_source=log_source, since=job.since)
    return summary.as_dict()


def feature_job(job: ScheduledJob) -> dict[str, Any]:
    """The feature tables brought to the job's time, then the served model's drift up to that time
    (`drift`: per-feature KL and the maximum, or why there is none)."""

    with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS["features"]) as conn:
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

    try:
        return model_drift(conn, end)
    except Exception as exc:
        logger.exception("model drift not measured")
        return DriftReport(status="failed", detail=f"{type(exc).__name__}: {exc}")


def model_drift(conn: psycopg.Connection, end: datetime) -> DriftReport:
    """Drift of the served model (Settings.model_dir: /opt/model on Lambda, else the registry's
    CURRENT) over the drift window ending at `end`; no model or a model without a feature reference
    is reported, not raised."""

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
        reason=Reason.MODEL.value,
    )


def refresh_job() -> dict[str, Any]:

    with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS["refresh_views"]) as conn:
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


def run_full(
    conn: psycopg.Connection,
    log_source: LogSource | None,
    contract_address: str | None = None,
    *,
    confirmations: int = 0,
    as_of: datetime | None = None,
    redis: Any = None,
    refresh: bool = True,
) -> EtlSummary:
    """Everything from marketplace tables + a LogSource: ETL, the daily feature job as of `as_of`
    (default now) and the views. What the ML room runs before build_training_set; `confirmations`
    defaults to 0 because a simulated chain does not reorganise after the fact."""
    from shared.etl.pipeline import run_etl_incremental

    began = time.perf_counter()
    summary = run_etl_incremental(
        conn,
        mode="hourly",
        log_source=log_source,
        contract_address=contract_address,
        confirmations=confirmations,
    )
    job = run_feature_job(conn, "daily", as_of=as_of, redis=redis)
    summary.mode = "full"
    summary.features = dict(job.rows_written)
    if refresh:
        summary.views = refresh_views(conn).refreshed
    summary.seconds = time.perf_counter() - began
    return summary

"""The model-ops job (issue 17): quality from labels, the rollout watchdog, emergency retraining.

One function (functions/model_ops) runs it, two ways:
- on its schedule (shared/jobs/schedules.yaml `model-ops`, hourly; locally on the local timers):
  1. quality: every version's figures over the latest settled 24-hour window (shared.kpis.quality,
     14 days after its end), stored in intel.model_quality; the served version's are the job's metrics
     (ModelPrecision, ModelRecall, ...), with its detection drop against its own baseline (its first
     settled windows, at the same label delay);
  2. watchdog: a candidate in shadow or canary (shared.model.rollout) against the served model since
     the candidate started; worse by the rules of `judge` -> rolled back, without a person;
  3. emergency retraining, locally (no state machine): drift over 0.15 (the served model's, as the
     features job measures it) or detection down more than 10% -> `request_retrain`. In AWS the same
     signals are CloudWatch alarms (model-drift, model-detection-drop) whose state change EventBridge
     delivers here: way 2.
- on an alarm's state change (EventBridge, "CloudWatch Alarm State Change", to ALARM): a drift or
  detection-drop alarm -> `request_retrain`; any other alarm of the service while a canary runs -> the
  canary is rolled back.
`request_retrain` applies the cooldown (one start per TG_MODEL_OPS_RETRAIN_COOLDOWN_HOURS, default 24,
however often an alarm flaps) and starts the pipeline: the Step Functions state machine in AWS
(Settings.retrain_state_machine_arn), else the starter the local stack registered
(tooling.local.retrain, through `register_retrain_starter`).
`record_metrics` turns the job's summary into its metrics (the tables below).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import psycopg
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import Field

from shared.config import EnvSettings, get_settings
from shared.db.timeouts import STATEMENT_TIMEOUT_MS
from shared.errors import ConfigurationError
from shared.kpis.quality import (
    QualityCounts,
    baseline_detection,
    candidate_comparison,
    quality_by_version,
    settled_window,
    store_quality,
)
from shared.model import rollout
from shared.observability import logger, metrics

DRIFT_RETRAIN_KL = 0.15  # spec 1.6 / 4.2
DETECTION_DROP = 0.10  # spec 1.6: "fraud detection rate drops > 10%", relative to the version's baseline
WATCHDOG = "watchdog"
RETRAIN_ALARMS = {"model-drift": "drift", "model-detection-drop": "detection_drop"}

Starter = Callable[[str, dict[str, Any]], str]  # (reason, detail) -> the run's id


class OpsSettings(EnvSettings):
    """TG_MODEL_OPS_*: the job's thresholds."""

    env_prefix: ClassVar[str] = "TG_MODEL_OPS_"

    retrain_cooldown_hours: float = Field(24.0, ge=0)
    # The watchdog judges a candidate once both sides hold this many labelled frauds (detection), or
    # this many legitimate purchases (false positives).
    watchdog_min_frauds: int = Field(20, ge=1)
    watchdog_min_legit: int = Field(200, ge=1)
    # Worse: detection lower by more than this share of the served model's, or a false-positive rate
    # above the served model's times `fpr_ratio` plus `fpr_margin`.
    watchdog_detection_drop: float = Field(DETECTION_DROP, gt=0, lt=1)
    watchdog_fpr_ratio: float = Field(1.5, ge=1)
    watchdog_fpr_margin: float = Field(0.005, ge=0)
    baseline_windows: int = Field(7, ge=1)
    baseline_min_frauds: int = Field(20, ge=1)


# ---------------------------------------------------------------- 1. quality


def served_quality(
    conn: psycopg.Connection, served: str | None, now: datetime, ops: OpsSettings
) -> dict[str, Any]:
    """Step 1: store each version's settled window; the served version's figures and detection drop."""
    start, end = settled_window(now)
    rows = quality_by_version(conn, start, end, known_at=now)
    store_quality(conn, start, end, rows)
    mine = next((r.counts for r in rows if r.model_version == served and r.role == "served"), None)
    result: dict[str, Any] = {
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "served_version": served,
        "versions": [
            {"model_version": r.model_version, "role": r.role, **r.counts.model_dump()} for r in rows
        ],
        "served": None if mine is None else mine.model_dump(),
        "baseline_detection": None,
        "detection_drop": None,
    }
    if served is None or mine is None or mine.detection_rate is None:
        return result
    baseline = baseline_detection(
        conn, served, windows=ops.baseline_windows, min_frauds=ops.baseline_min_frauds
    )
    result["baseline_detection"] = baseline
    if baseline:
        result["detection_drop"] = round((baseline - mine.detection_rate) / baseline, 6)
    return result


# ---------------------------------------------------------------- 2. watchdog


def judge(candidate: QualityCounts, served: QualityCounts, ops: OpsSettings) -> tuple[str, list[str]]:
    """("worse" | "ok" | "pending", why). Worse on either rule once its side has enough labels."""
    reasons, judged = [], False
    if min(candidate.frauds, served.frauds) >= ops.watchdog_min_frauds:
        judged = True
        floor = (served.detection_rate or 0.0) * (1 - ops.watchdog_detection_drop)
        if (candidate.detection_rate or 0.0) < floor:
            reasons.append(
                f"detection {candidate.detection_rate:.1%} against the served model's "
                f"{served.detection_rate:.1%} (floor {floor:.1%}) on {candidate.frauds} labelled frauds"
            )
    if min(candidate.legit, served.legit) >= ops.watchdog_min_legit:
        judged = True
        ceiling = (served.false_positive_rate or 0.0) * ops.watchdog_fpr_ratio + ops.watchdog_fpr_margin
        if (candidate.false_positive_rate or 0.0) > ceiling:
            reasons.append(
                f"false-positive rate {candidate.false_positive_rate:.2%} against the served model's "
                f"{served.false_positive_rate:.2%} (ceiling {ceiling:.2%}) on {candidate.legit} legitimate"
            )
    if reasons:
        return "worse", reasons
    return ("ok", ["not worse than the served model"]) if judged else ("pending", ["too few labels yet"])


def watchdog(
    conn: psycopg.Connection, store: rollout.Store, now: datetime, ops: OpsSettings
) -> dict[str, Any]:
    """Step 2: the candidate under trial against the served model; a worse one is rolled back."""
    state = store.rollout()
    if state.candidate is None:
        return {"candidate": None}
    since = state.since_at() or now - timedelta(days=30)
    sides = candidate_comparison(
        conn,
        candidate=state.candidate,
        served=store.current(),
        canary=state.mode == "canary",
        since=since,
        end=now,
        known_at=now,
    )
    verdict, reasons = judge(sides["candidate"], sides["served"], ops)
    result = {
        "candidate": state.candidate,
        "mode": state.mode,
        "verdict": verdict,
        "reasons": reasons,
        **{side: counts.model_dump() for side, counts in sides.items()},
    }
    if verdict == "worse":
        rollout.rollback(store, by=WATCHDOG, reason="; ".join(reasons), now=now)
        log(conn, "rollback", "; ".join(reasons), state.candidate, result, now)
        logger.warning("candidate rolled back by the watchdog", extra={"result": result})
    return result


# ---------------------------------------------------------------- 3. emergency retraining


def log(
    conn: psycopg.Connection,
    action: str,
    reason: str,
    version: str | None,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    conn.execute(
        "INSERT INTO intel.model_ops_log (at, action, reason, model_version, detail) VALUES (%s, %s, %s, %s, %s)",
        (now, action, reason, version, json.dumps(detail, default=str)),
    )


def emergency_reason(
    drift_kl: float | None, detection_drop: float | None
) -> tuple[str, dict[str, Any]] | None:
    """Spec 1.6: drift over 0.15, or the detection rate down more than 10% against the baseline."""
    if drift_kl is not None and drift_kl > DRIFT_RETRAIN_KL:
        return "drift", {"model_drift_kl": drift_kl}
    if detection_drop is not None and detection_drop > DETECTION_DROP:
        return "detection_drop", {"detection_drop": detection_drop}
    return None


def request_retrain(
    conn: psycopg.Connection,
    reason: str,
    detail: dict[str, Any],
    *,
    starter: Starter,
    now: datetime,
    ops: OpsSettings,
) -> dict[str, Any]:
    """Start the retraining pipeline unless one was started within the cooldown. The table lock makes
    two concurrent requests (an alarm and the schedule) take turns: the second sees the first's start."""
    cooldown = timedelta(hours=ops.retrain_cooldown_hours)
    with conn.transaction():
        conn.execute("LOCK TABLE intel.model_ops_log IN SHARE ROW EXCLUSIVE MODE")
        row = conn.execute(
            "SELECT max(at) FROM intel.model_ops_log WHERE action = 'retrain_started'"
        ).fetchone()
        last = row[0] if row else None
        if last is not None and now - last < cooldown:
            log(conn, "retrain_cooldown", reason, None, {**detail, "last_started": last}, now)
            return {"status": "cooldown", "reason": reason, "last_started": last.isoformat()}
        run = starter(reason, detail)
        log(conn, "retrain_started", reason, None, {**detail, "run": run}, now)
    logger.warning("emergency retraining started", extra={"reason": reason, "detail": detail, "run": run})
    return {"status": "started", "reason": reason, "run": run, "detail": detail}


def alarm_event(event: dict[str, Any]) -> tuple[str, str] | None:
    """(alarm name, new state) of an EventBridge "CloudWatch Alarm State Change", else None."""
    if event.get("source") != "aws.cloudwatch" or event.get("detail-type") != "CloudWatch Alarm State Change":
        return None
    detail = event.get("detail") or {}
    return str(detail.get("alarmName", "")), str((detail.get("state") or {}).get("value", ""))


def on_alarm(
    conn: psycopg.Connection,
    store: rollout.Store | None,
    name: str,
    state: str,
    *,
    starter: Starter,
    now: datetime,
    ops: OpsSettings,
) -> dict[str, Any]:
    """Way 2 of the module docstring."""
    if state != "ALARM":
        return {"alarm": name, "state": state, "action": "none"}
    for suffix, reason in RETRAIN_ALARMS.items():
        if name.endswith(f"-{suffix}"):
            result = request_retrain(conn, reason, {"alarm": name}, starter=starter, now=now, ops=ops)
            return {"alarm": name, "state": state, "action": "retrain", **result}
    trial = store.rollout() if store is not None else None
    if trial is None or trial.candidate is None or trial.mode != "canary":
        return {"alarm": name, "state": state, "action": "none"}
    why = f"alarm {name} fired while {trial.candidate} ran as a canary"
    assert store is not None
    rollout.rollback(store, by=WATCHDOG, reason=why, now=now)
    log(conn, "rollback", why, trial.candidate, {"alarm": name}, now)
    return {"alarm": name, "state": state, "action": "rollback", "candidate": trial.candidate}


def now_utc(value: datetime | None) -> datetime:
    return (value or datetime.now(UTC)).astimezone(UTC)


# ---------------------------------------------------------------- the job


def state_machine_arn() -> str | None:
    return get_settings().retrain_state_machine_arn or None


def step_functions_starter(arn: str) -> Starter:
    """Starts an execution of the retraining state machine with the documented emergency input."""

    def start(reason: str, detail: dict[str, Any]) -> str:
        import boto3

        name = f"emergency-{reason}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        response = boto3.client("stepfunctions").start_execution(
            stateMachineArn=arn,
            name=name,
            input=json.dumps({"reason": reason, "detail": detail}, default=str),
        )
        return str(response["executionArn"])

    return start


_registered_starter: list[Starter] = []


def register_retrain_starter(starter: Starter | None) -> None:
    """The retraining starter where no state machine is configured: the local stack registers its
    pipeline (tooling.local.retrain.install); None unregisters it."""
    _registered_starter.clear()
    if starter is not None:
        _registered_starter.append(starter)


def _no_pipeline(reason: str, detail: dict[str, Any]) -> str:
    raise ConfigurationError(
        "no retraining pipeline: TG_RETRAIN_STATE_MACHINE_ARN is unset and no local starter is registered"
    )


def default_starter() -> Starter:
    arn = state_machine_arn()
    if arn:
        return step_functions_starter(arn)
    return _registered_starter[0] if _registered_starter else _no_pipeline


def _store() -> rollout.Store | None:
    try:
        return rollout.open_store()
    except ConfigurationError as exc:
        logger.info("no model registry: no rollout to watch", extra={"detail": exc.message})
        return None


def _served_version() -> str | None:
    from shared.model import resolve_model_dir
    from shared.model.manifest import read_manifest

    try:
        return read_manifest(resolve_model_dir()).version
    except ConfigurationError:
        return None


def run_model_ops(event: dict[str, Any], *, starter: Starter | None = None) -> dict[str, Any]:
    """The job, either way (module docstring)."""
    from shared.db import connect
    from shared.jobs.events import parse_job

    ops = OpsSettings()
    alarm = alarm_event(event)
    job = None if alarm else parse_job(event)
    if job is not None:
        now = now_utc(job.as_of or job.scheduled_at)
    else:  # an alarm's state change: EventBridge's `time` is when it changed
        stamp = str(event.get("time") or "")
        now = now_utc(datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None)
    with connect(autocommit=True, statement_timeout_ms=STATEMENT_TIMEOUT_MS["model_ops"]) as conn:
        store = _store()
        if alarm is not None:
            return on_alarm(conn, store, *alarm, starter=starter or default_starter(), now=now, ops=ops)
        quality = served_quality(conn, _served_version(), now, ops)
        watched = watchdog(conn, store, now, ops) if store is not None else {"candidate": None}
        emergency: dict[str, Any] | None = None
        if state_machine_arn() is None:  # locally the job decides; in AWS the alarms do (EventBridge)
            from shared.jobs.scheduled import model_drift

            drift = model_drift(conn, now)
            signal = emergency_reason(drift.kl_max, quality["detection_drop"])
            emergency = {"drift_kl": drift.kl_max, "detection_drop": quality["detection_drop"]}
            if signal is not None:
                emergency |= request_retrain(
                    conn, *signal, starter=starter or default_starter(), now=now, ops=ops
                )
    return {"at": now.isoformat(), "quality": quality, "watchdog": watched, "emergency": emergency}


# ---------------------------------------------------------------- the job's metrics

# The served version's figures over the settled window -> its metric (percent).
PERCENT_METRICS = {
    "precision": "ModelPrecision",
    "recall": "ModelRecall",
    "detection_rate": "ModelDetectionRate",
    "false_positive_rate": "ModelFalsePositiveRate",
}
# ... and its confusion matrix over that window (count).
CONFUSION_METRICS = {
    "true_positive": "SettledTruePositive",
    "false_positive": "SettledFalsePositive",
    "true_negative": "SettledTrueNegative",
    "false_negative": "SettledFalseNegative",
}


def record_metrics(summary: dict[str, Any]) -> None:
    """The job's metrics from its summary, either way it ran (a schedule or an alarm)."""
    if "quality" not in summary:  # an alarm's state change
        requested = summary.get("status") == "started"
        rolled_back = summary.get("action") == "rollback"
    else:
        _quality_metrics(summary["quality"])
        requested = (summary["emergency"] or {}).get("status") == "started"
        rolled_back = summary["watchdog"].get("verdict") == "worse"
    metrics.add_metric(name="RetrainRequested", unit=MetricUnit.Count, value=int(requested))
    metrics.add_metric(name="CandidateRolledBack", unit=MetricUnit.Count, value=int(rolled_back))


def _quality_metrics(quality: dict[str, Any]) -> None:
    served = quality["served"] or {}
    for field in PERCENT_METRICS:  # indexed, so that the catalogue's test reads the names
        if served.get(field) is not None:
            metrics.add_metric(
                name=PERCENT_METRICS[field], unit=MetricUnit.Percent, value=round(100 * served[field], 4)
            )
    if served:
        for field in CONFUSION_METRICS:
            metrics.add_metric(name=CONFUSION_METRICS[field], unit=MetricUnit.Count, value=served[field])
    if quality["detection_drop"] is not None:
        metrics.add_metric(
            name="ModelDetectionDrop",
            unit=MetricUnit.Percent,
            value=round(100 * quality["detection_drop"], 4),
        )
    if quality["served_version"]:
        metrics.add_metadata(key="model_version", value=quality["served_version"])

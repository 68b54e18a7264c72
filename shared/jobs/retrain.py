"""The two Lambda steps of the retraining pipeline (the state machine of infra/retrain.py runs them;
between them CodeBuild runs `ticketguard train --training-set ... --registry ...`, training/retrain.py):

1. plan and export (`export_step`): whether this run trains (the schedule's `{"cadence": "biweekly"}`
   trains on even ISO weeks only, since cron cannot say "every other Sunday"; any other input always
   trains), then the point-in-time training set of the `weeks` before `now - LABEL_SETTLING` (labels
   settled) as gzip CSV at `s3://<archive>/retrain-runs/<run>/training-set.csv.gz`.
2. publish (`publish_step`): read the build's outcome (`retrain-runs/<run>/outcome.json`); a candidate
   the gate promoted is fetched, verified and loaded exactly as the scoring function will, then it runs
   in shadow beside the served version (`first="shadow"`, the deployed setting: the registry's
   ROLLOUT.json names it, shared.model.rollout; a person promotes it, the watchdog may roll it back) or
   the registry's CURRENT names it (`first="serve"`), unless the served model changed meanwhile.

The state machine's input, documented for the emergency trigger of issue 17 (drift over 0.15 or a
detection drop), which starts an execution with a reason and no cadence, so that it always trains:
    {"cadence": "biweekly"}                                     the bi-weekly schedule
    {"reason": "drift", "detail": {"model_drift_kl": 0.21}}     emergency (drift | detection_drop | manual)
    optional: "weeks" (3..52, default 6) of training data, "time" (ISO instant; default: the start)
"""

from __future__ import annotations

import csv
import gzip
import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.db.timeouts import STATEMENT_TIMEOUT_MS
from shared.errors import ConfigurationError, ValidationFailed
from shared.features.training import LABEL_SETTLING, TRAINING_SET_COLUMNS, training_rows
from shared.model.layout import OUTCOME_NAME, RUNS_PREFIX, TRAINING_SET_NAME
from shared.model.remote import (
    Registry,
    check_version_name,
    fetch_version,
    load_verified,
    probe,
    read_pointer,
)
from shared.model.remote import write_pointer as move_pointer
from shared.observability import metrics


class RetrainRequest(BaseModel):
    """The state machine's input (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cadence: Literal["biweekly"] | None = None
    reason: Literal["scheduled", "drift", "detection_drop", "manual"] | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    weeks: int = Field(6, ge=3, le=52)
    time: datetime | None = None


class ExportEvent(BaseModel):
    """What the state machine hands the export function: its input, the execution's name and start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request: RetrainRequest
    run_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,80}$")
    started_at: datetime


class PublishEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,80}$")
    outcome: str = Field(pattern=r"^s3://[^/]+/.+")


def should_run(now: datetime, cadence: str | None) -> tuple[bool, str]:
    if cadence is None:
        return True, "on demand"
    week = now.isocalendar().week
    if week % 2:
        return False, f"ISO week {week} is odd: bi-weekly retraining runs on even weeks"
    return True, f"ISO week {week} is even"


def parse_event(model: type[BaseModel], event: dict[str, Any]) -> Any:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValidationFailed(
            f"bad {model.__name__}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        ) from None


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise ValidationFailed(f"not an s3://bucket/key URI: {uri!r}")
    return bucket, key


def write_training_set_csv(rows: list[list[Any]], path: Path) -> None:
    """gzip CSV of TRAINING_SET_COLUMNS; a missing feature is an empty cell, floats round-trip exactly."""
    with gzip.open(path, "wt", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(TRAINING_SET_COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    "" if value is None else value.isoformat() if isinstance(value, datetime) else value
                    for value in row
                ]
            )


def export_step(
    event: dict[str, Any], *, bucket: str | None, s3: Any, connect: Callable[..., Any]
) -> dict[str, Any]:
    """Step 1. `connect(statement_timeout_ms=...)` opens the database connection (shared.db.connect)."""
    parsed: ExportEvent = parse_event(ExportEvent, event)
    request = parsed.request
    now = request.time or parsed.started_at
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    run, why = should_run(now, request.cadence)
    if not run:
        return {"status": "skipped", "reason": why, "run_id": parsed.run_id}
    if not bucket:
        raise ConfigurationError("TG_ARCHIVE_BUCKET is not set: nowhere to export the training set")
    end = now - LABEL_SETTLING
    start = end - timedelta(weeks=request.weeks)
    with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS["retrain_export"]) as conn:
        rows = training_rows(conn, start, end)
    frauds = sum(row[-1] for row in rows)
    window = f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
    trigger = request.reason or ("scheduled" if request.cadence else "on demand")
    if not rows:
        raise ValidationFailed(f"no transactions between {start:%Y-%m-%d} and {end:%Y-%m-%d} to train on")
    if not frauds:
        raise ValidationFailed(f"no labelled fraud between {start:%Y-%m-%d} and {end:%Y-%m-%d} to train on")
    prefix = f"{RUNS_PREFIX}{parsed.run_id}/"
    with tempfile.TemporaryDirectory(prefix="tg-export-") as tmp:
        path = Path(tmp) / TRAINING_SET_NAME
        write_training_set_csv(rows, path)
        s3.upload_file(str(path), bucket, prefix + TRAINING_SET_NAME)
    return {
        "status": "exported",
        "reason": trigger,
        "run_id": parsed.run_id,
        "training_set": f"s3://{bucket}/{prefix}{TRAINING_SET_NAME}",
        "outcome": f"s3://{bucket}/{prefix}{OUTCOME_NAME}",
        "source": f"production intel.* {window} ({trigger})",
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "rows": len(rows),
        "frauds": frauds,
    }


def _refusal(outcome: dict[str, Any], served: str | None) -> list[str]:
    """Why a candidate must not become CURRENT: the gate said so, or what it was compared with is no
    longer what is served (a rollback or another run moved CURRENT meanwhile)."""
    if not outcome.get("promote"):
        return list(outcome.get("reasons") or ["the gate refused it"])
    baseline = outcome.get("baseline") or {}
    expected = baseline.get("version") if baseline.get("source") == "registry" else None
    if served != expected:
        compared = expected or f"the shipped model {baseline.get('version')}"
        return [
            f"the served model changed while the candidate trained (compared with {compared}, "
            f"the registry now serves {served or 'the shipped model'}): not promoting over it"
        ]
    return []


def publish_step(
    event: dict[str, Any],
    *,
    registry: Registry,
    s3: Any,
    cache_dir: Path,
    architecture: str | None = None,
    first: Literal["serve", "shadow"] = "serve",
) -> dict[str, Any]:
    """Step 2. Moves CURRENT (or starts the shadow) only for a promoted candidate that fetches,
    verifies and loads here."""
    parsed: PublishEvent = parse_event(PublishEvent, event)
    bucket, key = split_s3_uri(parsed.outcome)
    outcome = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    version = check_version_name(str(outcome.get("version", "")))
    if outcome.get("registry") != registry.uri:
        raise ConfigurationError(
            f"run {parsed.run_id} trained for the registry {outcome.get('registry')!r}, this step publishes "
            f"to {registry.uri!r}"
        )
    pointer = read_pointer(registry, s3)
    served = pointer.version if pointer else None
    result: dict[str, Any] = {
        "run_id": parsed.run_id,
        "version": version,
        "previous": served,
        "test_auc_pr": (outcome.get("test") or {}).get("auc_pr"),
    }
    reasons = _refusal(outcome, served)
    if reasons:
        return {**result, "status": "refused", "reasons": reasons}
    directory = fetch_version(registry, version, cache_dir, s3, architecture=architecture)
    probe(load_verified(directory, version, architecture))
    if first == "shadow":
        from shared.model.rollout import S3Store, start_candidate

        start_candidate(
            S3Store(registry, s3), version, "shadow", by="retrain", reason=f"retraining run {parsed.run_id}"
        )
    else:
        move_pointer(registry, version, s3)
    return {**result, "status": "promoted", "rollout": first, "reasons": list(outcome.get("reasons") or [])}


def record_publish_metrics(result: dict[str, Any]) -> None:
    """The publish step's metrics: whether the run's model was promoted, and its held-out AUC-PR."""
    metrics.add_metric(
        name="RetrainPromoted", unit=MetricUnit.Count, value=int(result["status"] == "promoted")
    )
    if result["test_auc_pr"] is not None:
        metrics.add_metric(
            name="RetrainTestAucPr", unit=MetricUnit.NoUnit, value=float(result["test_auc_pr"])
        )

"""The retraining pipeline on this machine (no Step Functions, no CodeBuild), the steps of
infra/retrain.py with the local registry directory:

1. export: the point-in-time training set of the `weeks` before now - LABEL_SETTLING from the database
   (shared.jobs.retrain, as the export Lambda), or a CSV given (TG_LOCAL_RETRAIN_TRAINING_SET or
   --training-set: a database that holds too little settled history, a demo, the e2e test);
2. train: `ticketguard train --training-set FILE --out <registry> --no-promote` in a child process, as
   CodeBuild runs it (the gate compares the candidate with the served version; CURRENT never moves);
3. publish: a candidate the gate passed (or `force`) starts in shadow (shared.model.rollout), never
   served before the watchdog and a person have seen it; the outcome (shadow, refused, failed) is
   logged and written to intel.model_ops_log, where locally it is "paged".

The model-ops job starts it in a background thread (`start_in_background`): training takes minutes.
Local-only code: the local stack registers it as the job's retraining starter (`install`, called by
the local timers; shared.jobs.model_ops.register_retrain_starter); in AWS the state machine runs.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shared.config import get_settings
from shared.errors import ConfigurationError
from shared.jobs.model_ops import register_retrain_starter
from shared.model import rollout
from shared.model.manifest import current_architecture, read_manifest
from shared.observability import logger

TRAIN_TIMEOUT_S = 3600
BOOTSTRAP = 100  # the report's intervals (the CLI's default, 500, is for the shipped model's report)
_threads: list[threading.Thread] = []


def _export(path: Path, weeks: int, now: datetime) -> int:
    from shared.db import connect
    from shared.db.timeouts import STATEMENT_TIMEOUT_MS
    from shared.features.training import LABEL_SETTLING, training_rows
    from shared.jobs.retrain import write_training_set_csv

    end = now - LABEL_SETTLING
    with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS["retrain_export"]) as conn:
        rows = training_rows(conn, end - timedelta(weeks=weeks), end)
    if not rows or not any(row[-1] for row in rows):
        raise ConfigurationError(
            f"no labelled fraud in the {weeks} weeks before {end:%Y-%m-%d} to train on "
            "(give a training set: TG_LOCAL_RETRAIN_TRAINING_SET or --training-set)"
        )
    write_training_set_csv(rows, path)
    return len(rows)


def _record(outcome: dict[str, Any]) -> None:
    """The local page: a log line and a row of intel.model_ops_log."""
    import json

    from shared.db import connect

    logger.warning("retraining outcome", extra={"outcome": outcome})
    try:
        with connect(autocommit=True) as conn:
            conn.execute(
                """INSERT INTO intel.model_ops_log (action, reason, model_version, detail)
                   VALUES ('retrain_outcome', %s, %s, %s)""",
                (outcome["reason"], outcome.get("version"), json.dumps(outcome, default=str)),
            )
    except Exception as exc:  # the outcome is logged either way
        logger.error("retraining outcome not stored", extra={"error": f"{type(exc).__name__}: {exc}"})


def run_local_retrain(
    reason: str,
    *,
    registry: str | None = None,
    training_set: str | None = None,
    force: bool = False,
    weeks: int = 6,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Steps 1-3; returns the outcome ({"status": "shadow" | "refused" | "failed", ...})."""

    outcome: dict[str, Any] = {"reason": reason, "status": "failed"}
    try:
        store = rollout.open_store(registry)
        if not isinstance(store, rollout.LocalStore):
            raise ConfigurationError("the local pipeline trains into a registry directory, not S3")
        root = store.root
        training_set = training_set or get_settings().local_retrain_training_set or None
        with tempfile.TemporaryDirectory(prefix="tg-local-retrain-") as work:
            if training_set is None:
                training_set = str(Path(work) / "training-set.csv.gz")
                outcome["rows"] = _export(Path(training_set), weeks, now or datetime.now(UTC))
            before = {p.name for p in root.iterdir() if p.is_dir()}
            command = [
                sys.executable, "-m", "tooling.cli", "train",
                "--training-set", training_set,
                "--out", str(root),
                "--no-promote",
                "--source", f"local {reason} retraining ({Path(training_set).name})",
                "--arch", current_architecture(),
                "--bootstrap", str(BOOTSTRAP),
            ]  # fmt: skip
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TRAIN_TIMEOUT_S, check=False
            )
        if done.returncode != 0:
            raise ConfigurationError(
                f"ticketguard train failed: {(done.stderr or done.stdout).strip()[-500:]}"
            )
        [version] = sorted({p.name for p in root.iterdir() if p.is_dir()} - before - {"__pycache__"})
        gate = read_manifest(root / version).raw.get("gate") or {}
        outcome |= {"version": version, "gate": gate}
        if gate.get("promote") or force:
            rollout.start_candidate(
                store, version, "shadow", by="retrain", reason=f"{reason} retraining", now=now
            )
            outcome["status"] = "shadow"
        else:
            outcome["status"] = "refused"
    except Exception as exc:
        outcome["error"] = f"{type(exc).__name__}: {exc}"
    _record(outcome)
    return outcome


def start_in_background(reason: str, detail: dict[str, Any]) -> str:
    """The model-ops job's starter, locally: the pipeline in a daemon thread; returns the run's id."""
    run = f"local-{reason}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    thread = threading.Thread(
        target=run_local_retrain,
        args=(reason,),
        kwargs={"force": bool(detail.get("force"))},
        name=run,
        daemon=True,
    )
    thread.start()
    _threads.append(thread)
    return run


def wait_for_runs(timeout_s: float = TRAIN_TIMEOUT_S) -> None:
    """Until every pipeline started here has finished (tests; `ticketguard run` on exit)."""
    for thread in list(_threads):
        thread.join(timeout_s)
    _threads[:] = [t for t in _threads if t.is_alive()]


def install() -> None:
    """Register the local pipeline as the model-ops job's retraining starter (idempotent)."""
    register_retrain_starter(start_in_background)

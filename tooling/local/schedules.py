"""The scheduled jobs, run locally on a timer: each tick calls the job's Lambda handler
(functions/<name>/handler.py) with an EventBridge scheduled event, the same code path as in AWS.

The jobs and their intervals come from the schedules table (shared/jobs/schedules.yaml), the one the
EventBridge rules are made from: each row with a `local_interval_s` runs here. `speedup` divides the
intervals, so that a local demo sees hourly and daily jobs run within minutes.
"""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.jobs.rounds import run_rounds
from shared.jobs.schedules import SCHEDULES, Schedule
from shared.observability import logger
from tooling.local.logkeys import under_own_name


@dataclass(frozen=True)
class Job:
    name: str
    function: str  # functions/<function>/handler.py
    interval_s: float
    detail: dict[str, Any]
    rounds: bool = False  # invoked again while it answers `continue` (shared/jobs/rounds.py)


def local_jobs(schedules: tuple[Schedule, ...] = SCHEDULES) -> tuple[Job, ...]:
    """The table's rows that run locally, grouped by function with the shortest interval first: when
    an hourly and a daily run of one job fall due together, the daily full pass runs last."""
    local = [s for s in schedules if s.local_interval_s is not None and s.function is not None]
    first_seen: dict[str | None, int] = {}
    for index, schedule in enumerate(local):
        first_seen.setdefault(schedule.function, index)
    local.sort(key=lambda schedule: (first_seen[schedule.function], schedule.local_interval_s))
    return tuple(
        Job(
            schedule.name,
            schedule.function or "",
            float(schedule.local_interval_s or 0),
            dict(schedule.payload or {}),
            schedule.rounds,
        )
        for schedule in local
    )


JOBS: tuple[Job, ...] = local_jobs()


def scheduled_event(job: Job, at: datetime | None = None) -> dict[str, Any]:
    at = at or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "local",
        "resources": [f"arn:aws:events:local:000000000000:rule/ticketguard-{job.name}"],
        "detail": dict(job.detail),
    }


def job_handler(job: Job) -> Callable[[dict[str, Any], Any], Any]:
    """The same handler function Lambda calls for this job."""
    handler: Callable[[dict[str, Any], Any], Any] = importlib.import_module(
        f"functions.{job.function}.handler"
    ).handler
    return under_own_name(handler)  # its log lines under its own name (tooling.local.logkeys)


def run_job(job: Job) -> bool:
    """Run one job once; False when it failed (logged, never raised: the schedule goes on)."""
    from tooling.local import retrain
    from tooling.local.gateway import LocalLambdaContext

    retrain.install()  # the model-ops job's retraining, locally (no state machine)
    handler = job_handler(job)

    def invoke(event: dict[str, Any]) -> Any:
        return handler(event, LocalLambdaContext(job.function, str(uuid.uuid4()), timeout_s=900))

    try:
        if job.rounds:  # the AWS state machine's loop (infra/rounds.py), in-process
            run_rounds(invoke, scheduled_event(job))
        else:
            invoke(scheduled_event(job))
    except Exception as exc:
        logger.warning(
            "scheduled job failed", extra={"job": job.name, "error": f"{type(exc).__name__}: {exc}"}
        )
        return False
    return True


class LocalScheduler:
    """Runs every job at its (sped-up) interval in one background thread."""

    def __init__(self, jobs: tuple[Job, ...] = JOBS, *, speedup: float = 1.0) -> None:
        self.jobs = jobs
        self.speedup = max(1.0, speedup)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs: dict[str, int] = {job.name: 0 for job in jobs}

    def interval(self, job: Job) -> float:
        return job.interval_s / self.speedup

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="local-schedules", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        due = {job.name: time.monotonic() + self.interval(job) for job in self.jobs}
        while not self._stop.is_set():
            now = time.monotonic()
            for job in self.jobs:
                if self._stop.is_set():
                    return
                if now >= due[job.name]:
                    if run_job(job):
                        self.runs[job.name] += 1
                    due[job.name] = time.monotonic() + self.interval(job)
            next_due = min(due.values())
            self._stop.wait(max(0.05, next_due - time.monotonic()))

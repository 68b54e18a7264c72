"""Local schedules call the jobs' Lambda handlers with EventBridge scheduled events."""

from __future__ import annotations

import time

import psycopg

from shared.jobs.events import parse_job
from tooling.local.schedules import JOBS, Job, LocalScheduler, job_handler, scheduled_event


def test_given_each_local_job_when_its_event_parsed_then_the_job_accepts_it() -> None:
    # Given every local job, Then its function exists and reads the mode we schedule
    for job in JOBS:
        assert callable(job_handler(job)), job.function
        parsed = parse_job(scheduled_event(job))
        assert parsed.mode == job.detail.get("mode", "hourly")


def test_given_sped_up_scheduler_when_running_then_refresh_job_runs_against_database(
    database_url: str, db: psycopg.Connection
) -> None:
    # Given the view-refresh job every 5 minutes, sped up 3000 times (every 0.1 s)
    scheduler = LocalScheduler((Job("refresh-views", "refresh_views", 300, {}),), speedup=3000)
    scheduler.start()
    try:
        # When it has had time to tick a few times
        deadline = time.monotonic() + 180  # generous: the suite shares two cores
        while scheduler.runs["refresh-views"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        scheduler.stop()
    # Then the job ran successfully, more than once
    assert scheduler.runs["refresh-views"] >= 2

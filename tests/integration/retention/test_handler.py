"""The retention Lambda handler on its scheduled event (the local timers' event, as EventBridge sends
it), against PostgreSQL and the moto buckets; and the archive's columns against the live schema
(the Glue tables are generated from the same policy, so Athena reads what PostgreSQL held)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import psycopg
import pytest

from functions.retention.handler import handler
from shared.retention.policy import POLICIES
from shared.retention.store import Stores
from tests.integration.retention.conftest import ARCHIVE, AS_OF, AUDIT, seed
from tooling.cli import main
from tooling.local.gateway import LocalLambdaContext
from tooling.local.schedules import JOBS, scheduled_event


@pytest.fixture
def deployed(db: psycopg.Connection, stores: Stores, monkeypatch: pytest.MonkeyPatch) -> Stores:
    """The seeded database, and the function's environment naming the (moto) buckets, as in AWS."""
    seed(db)
    monkeypatch.setenv("TG_ARCHIVE_BUCKET", ARCHIVE)
    monkeypatch.setenv("TG_AUDIT_ARCHIVE_BUCKET", AUDIT)
    return stores


def test_given_the_sunday_event_when_the_handler_runs_then_old_rows_are_archived_and_it_reports(
    deployed: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    [job] = [j for j in JOBS if j.function == "retention"]
    summary = handler(scheduled_event(job, AS_OF), LocalLambdaContext("retention", "req-1", timeout_s=900))
    assert summary["complete"] and not summary["continue"] and summary["as_of"] == AS_OF.isoformat()
    assert summary["rows_archived"] > 0 and summary["rows_deleted"] > summary["rows_archived"]  # + sessions
    assert list(deployed.archive.keys("transaction-logs/marketplace_orders/"))
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emitted: dict[str, Any] = {k: v for m in metrics for k, v in m.items() if k.startswith("Retention")}
    assert emitted["RetentionIncomplete"] in (0.0, [0.0])
    assert emitted["RetentionRowsArchived"] in (summary["rows_archived"], [summary["rows_archived"]])


def test_given_the_migrated_schema_then_each_policy_lists_exactly_its_tables_columns(
    db: psycopg.Connection,
) -> None:
    for policy in POLICIES:
        if not policy.columns:
            continue
        schema, table = policy.table.split(".")
        live = [
            row[0]
            for row in db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                "ORDER BY ordinal_position",
                (schema, table),
            )
        ]
        assert sorted(name for name, _ in policy.columns) == sorted(live), policy.table


class ShortContext(LocalLambdaContext):
    """An invocation with less time left than the retention margin: no batch may start."""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.mark.parametrize(("round_number", "continues"), [(3, True), (5, False)])
def test_given_too_little_time_when_the_handler_runs_then_it_asks_for_another_round_or_reports_incomplete(
    round_number: int,
    continues: bool,
    deployed: Stores,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a run capped at 5 rounds, and an invocation with less time left than the margin
    monkeypatch.setenv("TG_RETENTION_MAX_ROUNDS", "5")
    event = {"as_of": AS_OF.isoformat(), "round": round_number}
    summary = handler(event, ShortContext("retention", "req-2", timeout_s=900))
    # Then nothing moved; below the cap it asks the loop for the next round with the same as_of; at the
    # cap it stops, and the metric says work was left
    assert not summary["complete"] and summary["batches"] == 0 and summary["round"] == round_number
    assert summary["continue"] is continues
    assert summary["next"] == ({"as_of": AS_OF.isoformat(), "round": round_number + 1} if continues else None)
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [incomplete] = [m["RetentionIncomplete"] for m in metrics if "RetentionIncomplete" in m]
    assert incomplete in ((0.0, [0.0]) if continues else (1.0, [1.0]))


def test_given_old_rows_when_the_cli_dry_runs_then_it_prints_each_table_and_changes_nothing(
    database_url: str, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: Any
) -> None:
    seed(db)
    monkeypatch.setenv("TG_ARCHIVE_ROOT", str(tmp_path))
    before = db.execute("SELECT count(*) FROM marketplace.orders").fetchone()
    assert main(["retention", "--dry-run", "--as-of", AS_OF.isoformat()]) == 0
    out = capsys.readouterr().out
    for policy in POLICIES:
        assert policy.table in out
    assert (
        "marketplace.orders          transaction logs  archive, then delete  before 2026-03-03T03:00:00+00:00: 24 rows"
        in out
    )
    assert db.execute("SELECT count(*) FROM marketplace.orders").fetchone() == before
    assert not list(tmp_path.rglob("*.gz"))


class FewStepsContext(LocalLambdaContext):
    """An invocation with time for a few steps: its first looks at the clock (one per table of the
    policy, and one more) find plenty, every later one less than the margin, so a round passes the tables
    already done and moves about one batch, then hands on."""

    created: ClassVar[list[FewStepsContext]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.looks = 0
        FewStepsContext.created.append(self)

    def get_remaining_time_in_millis(self) -> int:
        self.looks += 1
        return 900_000 if self.looks <= len(POLICIES) + 1 else 30_000


@pytest.mark.parametrize("max_rounds", [None, 5])
def test_given_more_work_than_20_rounds_when_the_local_timer_runs_retention_then_its_loop_runs_them_all(
    max_rounds: int | None, deployed: Stores, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one-row batches and invocations with time for a few steps each: the seeded rows need more than
    # 20 rounds (a self-invoking chain would be cut by Lambda's recursive-loop detection at about 16)
    from shared.retention.job import dry_run
    from tooling.local import schedules

    monkeypatch.setenv("TG_RETENTION_BATCH_ROWS", "1")
    if max_rounds:
        monkeypatch.setenv("TG_RETENTION_MAX_ROUNDS", str(max_rounds))
    FewStepsContext.created = []
    monkeypatch.setattr("tooling.local.gateway.LocalLambdaContext", FewStepsContext)
    event = schedules.scheduled_event
    monkeypatch.setattr(schedules, "scheduled_event", lambda job, at=None: event(job, AS_OF))
    [job] = [j for j in JOBS if j.function == "retention"]
    # When the local timer runs the job (the state machine's loop, in-process)
    assert job.rounds and schedules.run_job(job)
    left = sum(move.rows for move in dry_run(db, deployed, AS_OF))
    if max_rounds is None:
        # Then round after round, past 20, until nothing is left past its age
        assert len(FewStepsContext.created) > 20 and left == 0
    else:
        # Then the cap of rounds stops it, with the rest left for the next run
        assert len(FewStepsContext.created) == max_rounds and left > 0

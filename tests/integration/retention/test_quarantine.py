"""Issue 21 finding 2: a row with a timestamp no reader can take (year 1 BC, year 10000) crashed
`ticketguard retention --dry-run` and every run. Now each such row is quarantined with its reason
(retention.quarantine) and left alone, and the run, and the dry run, go on. A bad row is planted in
every table the retention job reads."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from shared.retention.job import dry_run, run_retention
from shared.retention.policy import POLICIES, TablePolicy
from shared.retention.store import Stores
from tests.integration.retention.conftest import AS_OF, seed

YEAR_1_BC = "0001-01-01T00:00:00+14:00"
YEAR_10000 = "9999-12-31T23:59:59-14:00"


def _plant(db: psycopg.Connection, policy: TablePolicy, n: int) -> str:
    """A copy of one of the table's rows under a new key, its time column in year 1 BC (and, where
    the archive writes another timestamp, that one in year 10000)."""
    key: Any = f"bad-{n}" if policy.key_type == "text" else 990_000 + n
    overrides: dict[str, Any] = {policy.key_column: key, policy.time_column: YEAR_1_BC}
    if "transaction_id" in {name for name, _ in policy.columns}:
        overrides["transaction_id"] = f"bad-txn-{n}"
    others = [name for name, kind in policy.columns if kind == "timestamp" and name != policy.time_column]
    if others:
        overrides[others[0]] = YEAR_10000
    db.execute(
        f"INSERT INTO {policy.table} SELECT (jsonb_populate_record(NULL::{policy.table},"
        f" to_jsonb(r) || %s::jsonb)).* FROM {policy.table} r LIMIT 1",
        (json.dumps(overrides),),
    )
    return str(key)


@pytest.fixture
def planted(db: psycopg.Connection) -> dict[str, str]:
    seed(db)
    return {policy.table: _plant(db, policy, n) for n, policy in enumerate(POLICIES)}


def test_given_a_bad_row_in_every_table_when_dry_run_then_it_completes_and_counts_them(
    database_url: str, stores: Stores, planted: dict[str, str]
) -> None:
    with psycopg.connect(database_url) as conn:
        moves = dry_run(conn, stores, AS_OF)
    assert {move.table: move.unreadable for move in moves} == dict.fromkeys(planted, 1)
    assert all(move.rows > 0 for move in moves)  # the readable rows are still planned


def test_given_a_bad_row_in_every_table_when_retention_runs_then_each_is_quarantined_and_the_rest_moves(
    database_url: str, db: psycopg.Connection, stores: Stores, planted: dict[str, str]
) -> None:
    # When the run goes
    with psycopg.connect(database_url) as conn:
        run = run_retention(conn, stores, AS_OF, batch_rows=50)
    # Then it completes, having moved the readable rows past their age
    assert run.complete and run.as_dict()["rows_deleted"] > 0
    assert {t.table: t.rows_quarantined for t in run.tables} == dict.fromkeys(planted, 1)
    # and each bad row is quarantined with its reason and left where it was
    quarantined = {
        (table, key, reason)
        for table, key, reason in db.execute("SELECT source_table, row_key, reason FROM retention.quarantine")
    }
    assert quarantined == {(table, key, "time_out_of_range") for table, key in planted.items()}
    for policy in POLICIES:
        kept = db.execute(
            f"SELECT count(*) FROM {policy.table} WHERE {policy.key_column}::text = %s",
            (planted[policy.table],),
        ).fetchone()
        assert kept == (1,), policy.table
    # A second run quarantines nothing new and still completes
    with psycopg.connect(database_url) as conn:
        again = run_retention(conn, stores, AS_OF, batch_rows=50)
    assert again.complete and again.as_dict()["rows_quarantined"] == 0

"""Issue 16 items 1-3 against the real PostgreSQL and moto S3 (Object Lock included): per table, the
rows before = archived + kept; a crash after each step of a batch, then a rerun, loses nothing and
duplicates nothing; dry-run says exactly what moves."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError
from psycopg import sql

from shared.retention import codec
from shared.retention.batch import Batch, BatchChanged, VerificationFailed
from shared.retention.job import cutoff_of, dry_run, run_retention
from shared.retention.policy import ARCHIVED, POLICIES, TablePolicy
from shared.retention.store import Stores
from tests.integration.retention.conftest import AS_OF, AUDIT, seed


class Crash(Exception):
    pass


def _keys(db: psycopg.Connection, policy: TablePolicy) -> set[str]:
    return {str(r[0]) for r in db.execute(f"SELECT {policy.key_column} FROM {policy.table}")}


def _archived(stores: Stores, policy: TablePolicy) -> list[dict[str, Any]]:
    store = stores.of(policy.data_type.bucket)
    return [row for key in store.keys(policy.location) for row in codec.parse(store.get(key))]


def _snapshot(db: psycopg.Connection) -> dict[str, set[str]]:
    return {p.table: _keys(db, p) for p in POLICIES}


def _assert_nothing_lost_nothing_doubled(
    db: psycopg.Connection,
    stores: Stores,
    before: dict[str, set[str]],
    policies: tuple[TablePolicy, ...] = POLICIES,
) -> None:
    for policy in policies:
        kept = _keys(db, policy)
        cutoff = cutoff_of(policy, AS_OF)
        old = {
            str(r[0])
            for r in db.execute(
                f"SELECT {policy.key_column} FROM {policy.table} WHERE {policy.time_column} < %s", (cutoff,)
            )
        }
        assert not old, f"{policy.table}: rows past the hot age are still there"
        if not policy.data_type.archived:
            assert kept < before[policy.table]  # some deleted, the recent kept
            continue
        archived = [str(row[policy.key_column]) for row in _archived(stores, policy)]
        duplicates = [key for key, n in Counter(archived).items() if n > 1]
        assert not duplicates, f"{policy.table}: archived twice: {duplicates}"
        assert set(archived) | kept == before[policy.table], f"{policy.table}: rows lost"
        assert not set(archived) & kept, f"{policy.table}: archived and still kept"
        assert archived, f"{policy.table}: nothing archived"


@pytest.fixture
def seeded(db: psycopg.Connection) -> dict[str, set[str]]:
    seed(db)
    return _snapshot(db)


def test_given_rows_past_their_hot_age_when_retention_runs_then_each_table_is_archived_plus_kept(
    database_url: str, db: psycopg.Connection, stores: Stores, s3: Any, seeded: dict[str, set[str]]
) -> None:
    # When the weekly run goes, in batches of 4 rows
    with psycopg.connect(database_url) as conn:
        run = run_retention(conn, stores, AS_OF, batch_rows=4)
    # Then per table: rows before = archived + kept, nothing twice, nothing old left
    assert run.complete
    _assert_nothing_lost_nothing_doubled(db, stores, seeded)
    # And each batch has a manifest that counts and checksums its object
    for policy in ARCHIVED:
        store = stores.of(policy.data_type.bucket)
        manifests = [json.loads(store.get(k)) for k in store.keys(policy.manifest_prefix)]
        assert manifests and all(
            not k.startswith(policy.location) for k in store.keys(policy.manifest_prefix)
        )
        for manifest in manifests:
            content, count = codec.read_lines(store.get(manifest["object_key"]))
            assert (count, codec.sha256(content)) == (manifest["row_count"], manifest["object_sha256"])
            assert f"/dt={manifest['day']}/" in manifest["object_key"]
    done = db.execute(
        "SELECT count(*), count(*) FILTER (WHERE state = 'done') FROM retention.batches"
    ).fetchone()
    assert done is not None and done[0] == done[1] == run.as_dict()["batches"] - sum(
        t.batches for t in run.tables if t.action == "delete"
    )
    # And the audit archive is under Object Lock, compliance mode: a version cannot be deleted early
    [key, *_] = list(stores.audit.keys("audit-logs/intel_audit_log/"))
    head = s3.head_object(Bucket=AUDIT, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=AUDIT, Key=key, VersionId=head["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize("step", ["planned", "written", "verified", "deleted", "done"])
def test_given_a_crash_after_a_step_when_rerun_then_nothing_is_lost_or_archived_twice(
    step: str, database_url: str, db: psycopg.Connection, stores: Stores, seeded: dict[str, set[str]]
) -> None:
    # Given a run that dies after `step` of its third batch (rows of the batch in flight included)
    seen: list[str] = []

    def crash(at: str, batch: Batch) -> None:
        seen.append(at)
        if at == step and seen.count(step) == 3:
            raise Crash(f"crash after {step} of {batch.table} {batch.key_lo}..{batch.key_hi}")

    with psycopg.connect(database_url) as conn, pytest.raises(Crash):
        run_retention(conn, stores, AS_OF, batch_rows=4, hook=crash)
    # When the next run goes (another connection, as a new invocation would)
    with psycopg.connect(database_url) as conn:
        run = run_retention(conn, stores, AS_OF, batch_rows=4)
    # Then every row is either kept or archived exactly once
    assert run.complete
    _assert_nothing_lost_nothing_doubled(db, stores, seeded)
    assert db.execute("SELECT count(*) FROM retention.batches WHERE state = 'pending'").fetchone() == (0,)


def test_given_a_row_changed_after_its_archive_when_deleting_then_nothing_is_deleted_and_the_rerun_archives_it(
    database_url: str, db: psycopg.Connection, stores: Stores, seeded: dict[str, set[str]]
) -> None:
    # Given the first order batch verified, then one of its rows updated (a late refund)
    def refund(at: str, batch: Batch) -> None:
        if at == "verified" and batch.table == "marketplace.orders":
            db.execute(
                "UPDATE marketplace.orders SET status = 'refunded' WHERE order_id = %s", (int(batch.key_lo),)
            )

    orders = tuple(p for p in POLICIES if p.table == "marketplace.orders")
    with psycopg.connect(database_url) as conn, pytest.raises(BatchChanged):
        run_retention(conn, stores, AS_OF, batch_rows=4, hook=refund, policies=orders)
    assert _keys(db, orders[0]) == seeded["marketplace.orders"]  # nothing deleted
    # When the next run goes, Then the refunded state is what the archive holds, once
    with psycopg.connect(database_url) as conn:
        run_retention(conn, stores, AS_OF, batch_rows=4, policies=orders)
    _assert_nothing_lost_nothing_doubled(db, stores, seeded, orders)
    statuses = {row["order_id"]: row["status"] for row in _archived(stores, orders[0])}
    assert "refunded" in statuses.values()


class CorruptingStore:
    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, inner.name

    def put(self, key: str, body: bytes, *, content_type: str) -> None:
        self.inner.put(key, body, content_type=content_type)

    def get(self, key: str) -> bytes:
        body = self.inner.get(key)
        return codec.compress(codec.read_lines(body)[0][:-10] + b"\n") if key.endswith(".gz") else body

    def keys(self, prefix: str) -> Any:
        return self.inner.keys(prefix)


def test_given_an_object_that_reads_back_wrong_when_verifying_then_no_row_is_deleted(
    database_url: str, db: psycopg.Connection, stores: Stores, seeded: dict[str, set[str]]
) -> None:
    broken = Stores(CorruptingStore(stores.archive), stores.audit)
    with psycopg.connect(database_url) as conn, pytest.raises(VerificationFailed):
        run_retention(conn, broken, AS_OF, batch_rows=4)
    assert _snapshot(db) == seeded


def test_given_the_seeded_tables_when_dry_run_then_it_lists_per_table_what_the_run_then_moves(
    database_url: str, db: psycopg.Connection, stores: Stores, seeded: dict[str, set[str]]
) -> None:
    with psycopg.connect(database_url) as conn:
        moves = {m.table: m for m in dry_run(conn, stores, AS_OF)}
    assert _snapshot(db) == seeded  # a dry run changes nothing
    assert set(moves) == {p.table for p in POLICIES}
    with psycopg.connect(database_url) as conn:
        run = run_retention(conn, stores, AS_OF, batch_rows=4)
    for table in run.tables:
        assert moves[table.table].rows == table.rows_deleted, table.table
        assert moves[table.table].rows > 0
    assert (
        moves["marketplace.orders"].destination == "s3://tg-test-archive/transaction-logs/marketplace_orders/"
    )
    assert moves["intel.audit_log"].destination == f"s3://{AUDIT}/audit-logs/intel_audit_log/"


def test_given_a_deadline_when_it_comes_then_the_run_stops_between_batches_and_the_next_one_finishes(
    database_url: str, db: psycopg.Connection, stores: Stores, seeded: dict[str, set[str]]
) -> None:
    calls = iter(range(1000))

    def remaining_s() -> float:  # three batches' worth of time, then the margin is reached
        return 900.0 if next(calls) < 3 else 30.0

    with psycopg.connect(database_url) as conn:
        first = run_retention(conn, stores, AS_OF, batch_rows=4, remaining_s=remaining_s, margin_s=60)
        assert not first.complete and first.as_dict()["batches"] == 3
        second = run_retention(conn, stores, AS_OF, batch_rows=4)
    assert second.complete
    _assert_nothing_lost_nothing_doubled(db, stores, seeded)


def _scramble_physical_order(db: psycopg.Connection, policy: TablePolicy) -> list[Any]:
    """Rewrite each row of the table, highest key first: an UPDATE writes a new row version after the
    others, so a scan without ORDER BY now meets the rows in the reverse of key order. Returns the
    keys in the order a plain scan gives them."""
    table, key = sql.SQL(policy.table), sql.Identifier(policy.key_column)
    time = sql.Identifier(policy.time_column)
    if policy.table == "intel.audit_log":  # append-only (migration 0540): its guard off for the no-op rewrite
        db.execute("ALTER TABLE intel.audit_log DISABLE TRIGGER audit_log_no_update")
    for (value,) in db.execute(
        sql.SQL("SELECT {k} FROM {t} ORDER BY 1 DESC").format(k=key, t=table)
    ).fetchall():
        db.execute(
            sql.SQL("UPDATE {t} SET {c} = {c} WHERE {k} = %s").format(t=table, c=time, k=key), (value,)
        )
    db.execute("ALTER TABLE intel.audit_log ENABLE TRIGGER audit_log_no_update")
    return [value for (value,) in db.execute(sql.SQL("SELECT {k} FROM {t}").format(k=key, t=table))]


def test_given_rows_stored_out_of_key_order_when_archived_then_each_object_holds_them_in_key_order(
    database_url: str, db: psycopg.Connection, stores: Stores, seeded: dict[str, set[str]]
) -> None:
    # Given every archived table's rows rewritten highest key first (physical order != key order)
    for policy in ARCHIVED:
        scanned = _scramble_physical_order(db, policy)
        assert scanned != sorted(scanned), f"{policy.table}: the rows are still stored in key order"
    # When the run archives them
    with psycopg.connect(database_url) as conn:
        assert run_retention(conn, stores, AS_OF, batch_rows=4).complete
    # Then each object lists its rows in key order (bytewise for text keys): a rerun of a batch writes
    # the same bytes whatever the rows' physical order is then
    for policy in ARCHIVED:
        store = stores.of(policy.data_type.bucket)
        objects = list(store.keys(policy.location))
        assert objects, policy.table
        longest = 0
        for key in objects:
            keys = [row[policy.key_column] for row in codec.parse(store.get(key))]
            ordered = sorted(keys, key=lambda k: k.encode() if isinstance(k, str) else k)
            assert keys == ordered, f"{policy.table} {key}: rows not in key order"
            longest = max(longest, len(keys))
        # (the seed gives every table three rows a day, the audit log one: objects of one row prove nothing)
        assert longest > 1 or policy.table == "intel.audit_log", policy.table


_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")


def _fits(kind: str, value: Any) -> bool:
    """Whether a JSON value reads as the Hive type the Glue table declares (OpenX JSON SerDe)."""
    if value is None:
        return True
    if kind == "bigint":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "double" or kind.startswith("decimal"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "timestamp":
        return isinstance(value, str) and bool(_TIMESTAMP.match(value))
    return isinstance(value, str)


def test_given_archived_rows_then_every_value_reads_as_its_glue_column_type(
    database_url: str, db: psycopg.Connection, stores: Stores, seeded: dict[str, set[str]]
) -> None:
    with psycopg.connect(database_url) as conn:
        run_retention(conn, stores, AS_OF, batch_rows=50)
    for policy in ARCHIVED:
        rows = _archived(stores, policy)
        assert rows, policy.table
        for row in rows:
            assert list(row) == [name for name, _ in policy.columns]  # the Glue table's column order
            wrong = {name: row[name] for name, kind in policy.hive_columns() if not _fits(kind, row[name])}
            assert wrong == {}, policy.table
            assert all(row[c] is None or str(row[c]).startswith("enc:v2:") for c in policy.personal)

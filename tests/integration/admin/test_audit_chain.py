"""The one audit log (migration 0540, shared/audit/log.py): append-only, hash-chained, verified."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from shared.audit.log import AuditEntry, record, search, verify
from shared.db.connection import with_database
from shared.db.migrations import MIGRATIONS_DIR, apply_migrations
from tooling.cli import main
from tooling.local.services import LocalServices


def _write(db: psycopg.Connection, n: int) -> None:
    for i in range(n):
        record(
            db,
            AuditEntry(
                actor=f"ann{i}", role="analyst", action="review.resolve", target=f"txn:{i}",
                before={"status": "claimed"}, after={"status": "resolved", "label": i % 2 == 0},
                source_ip="10.0.0.1", request_id=f"req-{i}",
            ),
        )  # fmt: skip


def _as_tamperer(db: psycopg.Connection, statement: str) -> None:
    """What someone with the table owner's powers could do: switch the guard off, edit, switch it on."""
    db.execute("ALTER TABLE intel.audit_log DISABLE TRIGGER audit_log_no_update")
    try:
        db.execute(statement)
    finally:
        db.execute("ALTER TABLE intel.audit_log ENABLE TRIGGER audit_log_no_update")


def test_given_rows_from_every_writer_then_the_chain_verifies(db: psycopg.Connection) -> None:
    # Given admin calls and a writer that gives only the old columns (GDPR erasures, migrations)
    _write(db, 3)
    db.execute("INSERT INTO intel.audit_log (actor, action, target) VALUES ('gdpr', 'gdpr.erase', 'user:1')")
    # Then the chain holds, and each row was linked by the database
    report = verify(db)
    assert report.ok and report.rows == 4 and report.head_seq == 4, report.problems
    rows = search(db)
    assert [row.chain_seq for row in rows] == [4, 3, 2, 1]
    assert rows[-1].before == {"status": "claimed"} and rows[-1].source_ip == "10.0.0.1"
    assert [row.target for row in search(db, action="review.", limit=2)] == ["txn:2", "txn:1"]


def test_given_a_writer_choosing_the_chain_columns_then_the_database_overrides_them(
    db: psycopg.Connection,
) -> None:
    db.execute(
        "INSERT INTO intel.audit_log (actor, action, chain_seq, prev_hash, row_hash) VALUES ('x', 'y', 99, 'a', 'b')"
    )
    row = db.execute("SELECT chain_seq, prev_hash, length(row_hash) FROM intel.audit_log").fetchone()
    assert row == (1, "0" * 64, 64)
    assert verify(db).ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE intel.audit_log SET actor = 'mallory'",
        "DELETE FROM intel.audit_log",
        "TRUNCATE intel.audit_log",
    ],
)
def test_given_the_owner_then_update_delete_and_truncate_are_refused(
    db: psycopg.Connection, statement: str
) -> None:
    _write(db, 2)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.execute(statement)
    assert verify(db).ok and verify(db).rows == 2


def test_given_the_service_role_then_it_may_append_but_has_no_grant_to_change(db: psycopg.Connection) -> None:
    _write(db, 1)
    with db.transaction():
        db.execute("SET LOCAL ROLE ticketguard_service")
        record(db, AuditEntry(actor="svc", action="blocklist.add", target="wallet:0x"))
    for statement in (
        "UPDATE intel.audit_log SET actor = 'x'",
        "DELETE FROM intel.audit_log",
        "UPDATE intel.audit_chain SET head_seq = 0",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"), db.transaction():
            db.execute("SET LOCAL ROLE ticketguard_service")
            db.execute(statement)
    assert verify(db).ok and verify(db).rows == 2


def test_given_a_row_edited_by_hand_then_verify_names_it_and_the_cli_fails(
    db: psycopg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(db, 5)
    assert main(["audit", "verify"]) == 0
    _as_tamperer(
        db,
        'UPDATE intel.audit_log SET after = \'{"status": "resolved", "label": false}\' WHERE chain_seq = 3',
    )
    report = verify(db)
    assert not report.ok and report.problems == [
        "seq 3 (audit_id 3) was changed: its content no longer matches its hash"
    ]
    capsys.readouterr()
    assert main(["audit", "verify"]) == 1
    assert "BROKEN" in capsys.readouterr().out


def test_given_a_row_edited_and_rehashed_then_the_next_link_breaks(db: psycopg.Connection) -> None:
    _write(db, 4)
    _as_tamperer(
        db,
        "UPDATE intel.audit_log SET actor = 'mallory', row_hash = intel.audit_row_hash(prev_hash, chain_seq, audit_id,"
        " 'mallory', role, action, target, details, before, after, source_ip, request_id, at) WHERE chain_seq = 2",
    )
    assert verify(db).problems == ["seq 3 (audit_id 3): its link does not match the previous row's hash"]


@pytest.mark.parametrize(
    ("seq", "expected"), [(2, "rows removed: seq 2..2 are missing"), (4, "the chain ends at seq 3")]
)
def test_given_a_row_removed_by_hand_then_verify_names_the_gap(
    db: psycopg.Connection, seq: int, expected: str
) -> None:
    _write(db, 4)
    _as_tamperer(db, f"DELETE FROM intel.audit_log WHERE chain_seq = {seq}")
    problems = verify(db).problems
    assert any(problem.startswith(expected) for problem in problems), problems


def test_given_retention_purging_archived_rows_then_the_anchor_moves_and_the_rest_verifies(
    db: psycopg.Connection,
) -> None:
    _write(db, 5)
    with db.transaction():
        db.execute("SELECT set_config('ticketguard.audit_purge', 'on', true)")
        db.execute("DELETE FROM intel.audit_log WHERE chain_seq <= 2")
    report = verify(db)
    assert report.ok and (report.anchor_seq, report.rows, report.head_seq) == (2, 3, 5), report.problems
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute(
            "DELETE FROM intel.audit_log WHERE chain_seq = 3"
        )  # the setting ended with its transaction


def test_given_audit_rows_from_before_the_chain_when_migrated_then_they_are_chained(
    services: LocalServices, tmp_path: Path
) -> None:
    # Given a database migrated up to just before 0540, with the rows GDPR erasures wrote
    before = tmp_path / "before"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < "0540":
            shutil.copy(path, before / path.name)
    name = "tg_chain_migration"
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    url = with_database(services.database_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn, before)
            conn.execute(
                "INSERT INTO intel.audit_log (actor, action, target, at) VALUES "
                "('gdpr', 'gdpr.erase', 'user:1', now() - interval '2 days'), ('gdpr', 'gdpr.erase', 'user:2', now())"
            )
            # When 0540 runs
            apply_migrations(conn)
            # Then the old rows are the chain's first links, and new ones follow
            record(conn, AuditEntry(actor="ann", action="review.claim"))
            report = verify(conn)
            assert report.ok and report.rows == 3, report.problems
            assert [r.target for r in search(conn)] == [None, "user:2", "user:1"]
    finally:
        with psycopg.connect(services.database_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

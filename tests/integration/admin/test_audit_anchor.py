"""The audit chain's head anchored outside the database (shared/audit/anchor.py): an SSM parameter under
moto, the chain in the real PostgreSQL. Without the anchor, rows cut from the chain's end with the
database's head set back verify; with it they do not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import psycopg
import pytest
from moto import mock_aws

from shared.audit.anchor import SsmAnchor, advance, read_anchor
from shared.audit.log import AuditEntry, record, verify
from tooling.cli import main

PARAMETER = "/ticketguard/test/audit/chain-head"
T0 = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[SsmAnchor]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield SsmAnchor(boto3.client("ssm", region_name="eu-west-1"), PARAMETER)


def _write(db: psycopg.Connection, n: int) -> None:
    for i in range(n):
        record(db, AuditEntry(actor=f"ann{i}", role="admin", action="blocklist.add", target=f"wallet:{i}"))


def _cut_tail(db: psycopg.Connection, keep: int) -> None:
    """What someone with the owner's powers could do: delete the last rows and set the head back."""
    db.execute("ALTER TABLE intel.audit_log DISABLE TRIGGER audit_log_no_update")
    try:
        db.execute("DELETE FROM intel.audit_log WHERE chain_seq > %s", (keep,))
        db.execute(
            "UPDATE intel.audit_chain SET head_seq = %s,"
            " head_hash = (SELECT row_hash FROM intel.audit_log WHERE chain_seq = %s)",
            (keep, keep),
        )
    finally:
        db.execute("ALTER TABLE intel.audit_log ENABLE TRIGGER audit_log_no_update")


def _versions(store: SsmAnchor) -> int:
    return int(store.client.get_parameter(Name=PARAMETER)["Parameter"]["Version"])


def test_given_an_anchored_head_when_the_tail_is_cut_and_the_head_set_back_then_only_the_anchor_catches_it(
    db: psycopg.Connection, store: SsmAnchor, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given five rows, and the head anchored by the SIEM's poll
    _write(db, 5)
    outcome = advance(db, store, now=T0)
    assert outcome.advanced and outcome.anchored is not None and outcome.anchored.seq == 5
    assert verify(db, anchor=store.read()).ok
    # When the last two rows are deleted and the database's head set back to row 3
    _cut_tail(db, keep=3)
    # Then the chain alone still verifies (the gap this closes) ...
    assert verify(db).ok
    # ... but not against the anchor, and the CLI names it and exits 1
    report = verify(db, anchor=store.read())
    assert not report.ok and report.anchored_seq == 5
    assert report.problems == [
        "the chain's head is seq 3, before the anchored seq 5 (anchored at 2026-12-04T05:00:00+00:00): "
        "rows at its end were removed"
    ]
    capsys.readouterr()
    assert main(["audit", "verify", "--anchor-parameter", PARAMETER]) == 1
    printed = capsys.readouterr().out
    assert "BROKEN" in printed and "anchored outside the database: seq 5" in printed


def test_given_a_broken_anchor_then_the_next_poll_keeps_it_and_reports_it(
    db: psycopg.Connection, store: SsmAnchor
) -> None:
    # Given an anchored head of 4 rows, then the tail cut and new rows written over the gap
    _write(db, 4)
    advance(db, store, now=T0)
    _cut_tail(db, keep=2)
    _write(db, 3)  # seq 3..5 again, with other content
    # When the poll runs again
    outcome = advance(db, store, now=T0)
    # Then the anchor stays (the evidence), and the rewritten row is named
    assert not outcome.advanced and outcome.anchored is not None and outcome.anchored.seq == 4
    assert outcome.problems == [
        "the anchored seq 4 (anchored at 2026-12-04T05:00:00+00:00) has another hash now: "
        "the chain was rewritten from there"
    ]
    assert _versions(store) == 1


def test_given_a_chain_that_holds_then_the_anchor_follows_the_head_and_is_written_only_when_it_moves(
    db: psycopg.Connection, store: SsmAnchor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no anchor yet: nothing to check, the first poll anchors the head
    assert read_anchor(PARAMETER) is None
    _write(db, 2)
    assert advance(db, store).advanced
    # When nothing was written since, the next poll changes nothing
    assert not advance(db, store).advanced and _versions(store) == 1
    # When rows are added, the anchor moves to the new head
    _write(db, 3)
    moved = advance(db, store)
    assert moved.advanced and moved.anchored is not None and moved.anchored.seq == 5 and _versions(store) == 2
    # And the configured parameter (TG_AUDIT_ANCHOR_PARAMETER) is what verify reads by default
    monkeypatch.setenv("TG_AUDIT_ANCHOR_PARAMETER", PARAMETER)
    from shared.config import get_settings

    get_settings.cache_clear()
    anchor = read_anchor()
    assert anchor is not None and verify(db, anchor=anchor).ok and verify(db, anchor=anchor).anchored_seq == 5


def test_given_retention_archiving_past_the_anchor_then_the_anchor_still_holds(
    db: psycopg.Connection, store: SsmAnchor
) -> None:
    # Given an anchored head at seq 3
    _write(db, 3)
    advance(db, store)
    _write(db, 2)
    # When retention archives and removes rows up to seq 4 (past the anchored row)
    with db.transaction():
        db.execute("SELECT set_config('ticketguard.audit_purge', 'on', true)")
        db.execute("DELETE FROM intel.audit_log WHERE chain_seq <= 4")
    # Then the chain verifies against it, and the next poll moves the anchor on
    report = verify(db, anchor=store.read())
    assert report.ok and report.anchor_seq == 4, report.problems
    outcome = advance(db, store)
    assert outcome.advanced and outcome.anchored is not None and outcome.anchored.seq == 5

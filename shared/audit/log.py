"""Writing, searching and verifying the one audit log (intel.audit_log).

Every row is linked into a hash chain by the database itself (migration 0540's trigger): a writer
gives the content (who, role, action, target, before/after, source IP, request id, details) and cannot
choose `chain_seq`, `prev_hash` or `row_hash`. `verify` recomputes each row's hash with the same SQL
function, follows the links from the chain's anchor (where retention last removed archived rows) to
its head, and names every row that was changed, removed or slipped in. The table refuses UPDATE,
DELETE and TRUNCATE (triggers; the service role has no grant either): a row edited anyway, by someone
who can bypass both, is what `verify` catches. The head is anchored outside the database too
(shared/audit/anchor.py): given the anchor, `verify` also catches rows cut from the chain's end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from shared.audit.anchor import HeadAnchor, check

GENESIS = "0" * 64
_FIELDS = (
    "audit_id, chain_seq, actor, role, action, target, details, before, after, source_ip, request_id, at"
)
_HASH = (
    "intel.audit_row_hash(prev_hash, chain_seq, audit_id, actor, role, action, target, details, before,"
    " after, source_ip, request_id, at)"
)


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    action: str
    target: str | None = None
    role: str | None = None
    before: Any = None
    after: Any = None
    source_ip: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class AuditRow(BaseModel):
    audit_id: int
    chain_seq: int
    actor: str
    role: str | None
    action: str
    target: str | None
    details: dict[str, Any]
    before: Any
    after: Any
    source_ip: str | None
    request_id: str | None
    at: datetime
    row_hash: str


def _json(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def record(conn: psycopg.Connection[Any], entry: AuditEntry) -> int:
    """Append one row (in the caller's transaction: the action and its audit row commit together);
    returns its chain_seq."""
    row = conn.execute(
        """INSERT INTO intel.audit_log
               (actor, role, action, target, details, before, after, source_ip, request_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING chain_seq""",
        (
            entry.actor,
            entry.role,
            entry.action,
            entry.target,
            Jsonb(entry.details),
            _json(entry.before),
            _json(entry.after),
            entry.source_ip,
            entry.request_id,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def search(
    conn: psycopg.Connection[Any],
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[AuditRow]:
    """Rows newest first; `action` matches a prefix ("blocklist." finds every blocklist action),
    `before_seq` pages on."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"""SELECT {_FIELDS}, row_hash FROM intel.audit_log
                 WHERE (%(actor)s::text IS NULL OR actor = %(actor)s)
                   AND (%(action)s::text IS NULL OR starts_with(action, %(action)s))
                   AND (%(target)s::text IS NULL OR target = %(target)s)
                   AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
                   AND (%(until)s::timestamptz IS NULL OR at < %(until)s)
                   AND (%(before)s::bigint IS NULL OR chain_seq < %(before)s)
                 ORDER BY chain_seq DESC LIMIT %(limit)s""",
            {
                "actor": actor,
                "action": action,
                "target": target,
                "since": since,
                "until": until,
                "before": before_seq,
                "limit": limit,
            },
        )
        .fetchall()
    )
    return [AuditRow.model_validate(row) for row in rows]


class ChainReport(BaseModel):
    ok: bool
    rows: int  # rows checked
    anchor_seq: int  # rows up to here were archived and removed by retention
    head_seq: int
    head_hash: str
    problems: list[str]
    # The head anchored outside the database (shared/audit/anchor.py) that the chain was checked against;
    # None: no anchor was given (none configured, or none written yet).
    anchored_seq: int | None = None
    anchored_at: str | None = None


def _chain_rows(conn: psycopg.Connection[Any]) -> Iterator[tuple[int, int, str, str, str]]:
    """(chain_seq, audit_id, prev_hash, row_hash, recomputed hash) in chain order, streamed."""
    with conn.cursor(name="audit_verify") as cursor:
        cursor.itersize = 2000
        cursor.execute(
            f"SELECT chain_seq, audit_id, prev_hash, row_hash, {_HASH} FROM intel.audit_log ORDER BY chain_seq"
        )
        yield from cursor


def verify(
    conn: psycopg.Connection[Any], *, anchor: HeadAnchor | None = None, max_problems: int = 50
) -> ChainReport:
    """Recompute and follow the chain from its anchor to its head, in one snapshot (its own
    transaction, or the caller's when that has run no query yet); with `anchor` (the head stored
    outside the database), check that the chain still holds it."""
    if conn.info.transaction_status == TransactionStatus.IDLE:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            report = _verify(conn, max_problems)
            return _against(conn, report, anchor, max_problems)
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    return _against(conn, _verify(conn, max_problems), anchor, max_problems)


def _against(
    conn: psycopg.Connection[Any], report: ChainReport, anchor: HeadAnchor | None, max_problems: int
) -> ChainReport:
    if anchor is None:
        return report
    problems = (check(conn, anchor) + report.problems)[:max_problems]
    return report.model_copy(
        update={
            "ok": not problems,
            "problems": problems,
            "anchored_seq": anchor.seq,
            "anchored_at": anchor.at,
        }
    )


def _verify(conn: psycopg.Connection[Any], max_problems: int) -> ChainReport:
    chain = conn.execute(
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM intel.audit_chain"
    ).fetchone()
    if chain is None:
        return ChainReport(
            ok=False, rows=0, anchor_seq=0, head_seq=0, head_hash="", problems=["no chain head"]
        )
    head_seq, head_hash, anchor_seq, anchor_hash = chain
    problems: list[str] = []
    expected_seq, expected_prev, count = anchor_seq + 1, anchor_hash, 0
    for seq, audit_id, prev_hash, row_hash, recomputed in _chain_rows(conn):
        count += 1
        problems += _check_row(seq, audit_id, prev_hash, row_hash, recomputed, expected_seq, expected_prev)
        expected_seq, expected_prev = seq + 1, row_hash
    if expected_seq - 1 != head_seq or expected_prev != head_hash:
        problems.append(
            f"the chain ends at seq {expected_seq - 1} but its head is seq {head_seq}: "
            "rows at the end were removed or the head was changed"
        )
    return ChainReport(
        ok=not problems,
        rows=count,
        anchor_seq=anchor_seq,
        head_seq=head_seq,
        head_hash=head_hash,
        problems=problems[:max_problems],
    )


def _check_row(
    seq: int,
    audit_id: int,
    prev_hash: str,
    row_hash: str,
    recomputed: str,
    expected_seq: int,
    expected_prev: str,
) -> list[str]:
    problems = []
    if seq > expected_seq:
        problems.append(f"rows removed: seq {expected_seq}..{seq - 1} are missing")
    elif seq < expected_seq:
        problems.append(f"seq {seq} (audit_id {audit_id}) is at or before the anchor: it was slipped in")
    if prev_hash != expected_prev:
        problems.append(f"seq {seq} (audit_id {audit_id}): its link does not match the previous row's hash")
    if recomputed != row_hash:
        problems.append(
            f"seq {seq} (audit_id {audit_id}) was changed: its content no longer matches its hash"
        )
    return problems

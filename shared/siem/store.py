"""The SIEM's tables (migration 0500): security events (stored once per event id) and findings (stored
once per dedup key). Every function takes an open psycopg connection; the caller owns the transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from shared.siem.models import Finding, SecurityEvent

_FINDING_COLUMNS = (
    "finding_id, dedup_key, rule, severity, subject_kind, subject, first_seen, last_seen, event_count,"
    " evidence, status, created_at"
)


def store_events(conn: psycopg.Connection[Any], events: Iterable[SecurityEvent]) -> int:
    """Insert the events (one statement); an event id stored before is left as it is. Returns how
    many were new."""
    rows = [
        {
            "event_id": e.event_id,
            "source": e.source,
            "kind": e.kind,
            "severity": e.severity.value,
            "occurred_at": e.occurred_at.isoformat(),
            "ip": e.ip,
            "account": e.account,
            "wallet": e.wallet,
            "details": e.details | ({"is_admin": True} if e.is_admin else {}),
        }
        for e in events
    ]
    if not rows:
        return 0
    cursor = conn.execute(
        """INSERT INTO siem.security_events
               (event_id, source, kind, severity, occurred_at, ip, account, wallet, details)
           SELECT event_id, source, kind, severity, occurred_at, ip, account, wallet, coalesce(details, '{}')
             FROM jsonb_to_recordset(%s) AS r(event_id text, source text, kind text, severity text,
                  occurred_at timestamptz, ip text, account text, wallet text, details jsonb)
           ON CONFLICT (event_id) DO NOTHING""",
        (Jsonb(rows, dumps=lambda v: json.dumps(v, default=str)),),
    )
    return cursor.rowcount


def recent_events(
    conn: psycopg.Connection[Any],
    *,
    min_severity: str = "INFO",
    since: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The SIEM feed (dashboard section 6): the newest events at or above a severity."""
    order = ["INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
    allowed = order[order.index(min_severity) :]
    cursor = conn.cursor(row_factory=dict_row)
    return cursor.execute(
        """SELECT event_id, source, kind, severity, occurred_at, ip, account, wallet, details
             FROM siem.security_events
            WHERE severity = ANY(%s) AND (%s::timestamptz IS NULL OR occurred_at >= %s)
            ORDER BY occurred_at DESC LIMIT %s""",
        (allowed, since, since, limit),
    ).fetchall()


def _finding(row: dict[str, Any]) -> Finding:
    return Finding.model_validate(row)


def store_finding(conn: psycopg.Connection[Any], finding: Finding) -> tuple[Finding, bool]:
    """Store the finding unless its dedup key is stored already; returns the stored finding (the
    earlier one for a known key) and whether it is new."""
    cursor = conn.cursor(row_factory=dict_row)
    row = cursor.execute(
        f"""INSERT INTO siem.findings
                (dedup_key, rule, severity, subject_kind, subject, first_seen, last_seen, event_count, evidence)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (dedup_key) DO NOTHING
            RETURNING {_FINDING_COLUMNS}""",
        (
            finding.dedup_key,
            finding.rule,
            finding.severity.value,
            finding.subject_kind,
            finding.subject,
            finding.first_seen,
            finding.last_seen,
            finding.event_count,
            Jsonb(finding.evidence),
        ),
    ).fetchone()
    if row is not None:
        return _finding(row), True
    existing = cursor.execute(
        f"SELECT {_FINDING_COLUMNS} FROM siem.findings WHERE dedup_key = %s", (finding.dedup_key,)
    ).fetchone()
    assert existing is not None
    return _finding(existing), False


def get_finding(conn: psycopg.Connection[Any], finding_id: int) -> Finding | None:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(f"SELECT {_FINDING_COLUMNS} FROM siem.findings WHERE finding_id = %s", (finding_id,))
        .fetchone()
    )
    return None if row is None else _finding(row)


def list_findings(
    conn: psycopg.Connection[Any],
    *,
    status: str | None = None,
    rule: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[Finding]:
    """Findings, newest first, filtered by status, rule and creation time; `before_id` pages on."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"""SELECT {_FINDING_COLUMNS} FROM siem.findings
                 WHERE (%(status)s::text IS NULL OR status = %(status)s)
                   AND (%(rule)s::text IS NULL OR rule = %(rule)s)
                   AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
                   AND (%(before)s::bigint IS NULL OR finding_id < %(before)s)
                 ORDER BY finding_id DESC LIMIT %(limit)s""",
            {"status": status, "rule": rule, "since": since, "before": before_id, "limit": limit},
        )
        .fetchall()
    )
    return [_finding(row) for row in rows]


def set_finding_status(conn: psycopg.Connection[Any], finding_id: int, status: str) -> bool:
    """Mark a finding handled (its actions ran) or dismissed (an analyst's call); False: no such finding."""
    cursor = conn.execute("UPDATE siem.findings SET status = %s WHERE finding_id = %s", (status, finding_id))
    return cursor.rowcount == 1


def open_findings(conn: psycopg.Connection[Any], ids: Sequence[int]) -> list[Finding]:
    """Of `ids`, the findings still open (not yet handled by the SOAR)."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_FINDING_COLUMNS} FROM siem.findings WHERE finding_id = ANY(%s) AND status = 'open'",
            (list(ids),),
        )
        .fetchall()
    )
    return [_finding(row) for row in rows]

"""Refreshing the dashboard materialized views (migration 0110) without blocking readers.

`REFRESH MATERIALIZED VIEW CONCURRENTLY` takes an EXCLUSIVE lock, which lets SELECTs through
(they take ACCESS SHARE); it needs the unique index each view has. A transaction-level advisory
lock keeps two refresh runs (two schedules overlapping) from queueing behind each other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

VIEWS: tuple[str, ...] = ("intel.kpi_hourly", "intel.event_analytics", "intel.user_segments")
_REFRESH_LOCK = 0x7E_F5_E5


@dataclass
class RefreshSummary:
    refreshed: list[str] = field(default_factory=list)
    skipped_busy: bool = False
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def refresh_views(conn: psycopg.Connection, views: tuple[str, ...] = VIEWS) -> RefreshSummary:
    """Refresh each view concurrently, one transaction per view. Skips (and says so) when another
    refresh holds the lock."""
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise ValueError(f"unknown view(s) {unknown}; known: {list(VIEWS)}")
    summary = RefreshSummary()
    if not conn.autocommit:
        conn.commit()
        conn.autocommit = True
    for view in views:
        schema, _, name = view.partition(".")
        began = time.perf_counter()
        with conn.transaction():
            got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_REFRESH_LOCK,)).fetchone()
            if not got or not got[0]:
                summary.skipped_busy = True
                return summary
            conn.execute(
                sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(sql.Identifier(schema, name))
            )
        summary.seconds[view] = time.perf_counter() - began
        summary.refreshed.append(view)
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
        ).fetchone()
        summary.rows[view] = int(count[0]) if count else 0
    return summary

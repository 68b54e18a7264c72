"""Batch feature jobs: set-based SQL writing the feature store tables as of a time.

hourly: avg_ticket_hold_time (intel.wallet_features), event_popularity_score (intel.event_features)
daily:  the hourly ones + cross_event_attendance (intel.wallet_features), payment_method_diversity
        (intel.user_features), wallet_centrality (intel.wallet_centrality, PageRank per UTC day)

Every window is "strictly before as_of", exactly as the training-set builder uses "strictly before
the transaction's time", so a job run as of t stores what a transaction at t would see.
wallet_age_days needs no table: intel.wallets.first_seen_at is kept by the chain loader.
After writing, the Redis copies of entity features are invalidated so that the next read
refreshes them from these tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from shared.etl.abi import ZERO_ADDRESS
from shared.features.formulas import CENTRALITY_WINDOW, PAYMENT_WINDOW, POPULARITY_WINDOW
from shared.features.pagerank import pagerank

Mode = Literal["hourly", "daily"]

_HOLD_SQL = """
INSERT INTO intel.wallet_features AS f (address, avg_ticket_hold_time, hold_as_of)
SELECT w.address, h.avg_hours, %(as_of)s
FROM intel.wallets w
LEFT JOIN (SELECT holder, avg(hold_hours) AS avg_hours FROM intel.ticket_holds
           WHERE sent_at < %(as_of)s GROUP BY holder) h ON h.holder = w.address
ON CONFLICT (address) DO UPDATE
SET avg_ticket_hold_time = EXCLUDED.avg_ticket_hold_time, hold_as_of = EXCLUDED.hold_as_of
"""

_ATTENDANCE_SQL = """
INSERT INTO intel.wallet_features AS f (address, cross_event_attendance, attendance_as_of)
SELECT w.address, coalesce(a.events, 0), %(as_of)s
FROM intel.wallets w
LEFT JOIN (SELECT c.to_address, count(DISTINCT tk.event_id) AS events
           FROM intel.chain_events c JOIN intel.tickets tk ON tk.ticket_id = c.token_id::bigint
           WHERE c.event_name = 'Transfer' AND c.block_time < %(as_of)s
           GROUP BY c.to_address) a ON a.to_address = w.address
ON CONFLICT (address) DO UPDATE
SET cross_event_attendance = EXCLUDED.cross_event_attendance, attendance_as_of = EXCLUDED.attendance_as_of
"""

_PAYMENT_SQL = """
INSERT INTO intel.user_features AS f (user_id, payment_method_diversity, as_of)
SELECT u.user_id, coalesce(p.instruments, 0), %(as_of)s
FROM intel.users u
LEFT JOIN (SELECT user_id, count(DISTINCT payment_instrument) AS instruments FROM intel.transactions
           WHERE occurred_at >= %(as_of)s - %(window)s AND occurred_at < %(as_of)s
           GROUP BY user_id) p ON p.user_id = u.user_id
ON CONFLICT (user_id) DO UPDATE
SET payment_method_diversity = EXCLUDED.payment_method_diversity, as_of = EXCLUDED.as_of
"""

# Formula of shared.features.formulas.event_popularity_score, in SQL (a test holds them equal).
_POPULARITY_SQL = """
WITH sold AS (
    SELECT event_id, count(DISTINCT ticket_id) AS n FROM intel.transactions
    WHERE kind = 'primary' AND occurred_at < %(as_of)s GROUP BY event_id
), recent AS (
    SELECT event_id, count(*) AS n FROM intel.transactions
    WHERE occurred_at >= %(as_of)s - %(window)s AND occurred_at < %(as_of)s GROUP BY event_id
), busiest AS (
    SELECT coalesce(max(n), 0) AS m FROM recent
)
INSERT INTO intel.event_features AS f
    (event_id, tickets_sold, capacity, sales_24h, max_sales_24h, event_popularity_score, as_of)
SELECT e.event_id, coalesce(s.n, 0), e.capacity, coalesce(r.n, 0), b.m,
       0.5 * least(1.0, coalesce(s.n, 0)::double precision / e.capacity)
       + 0.5 * CASE WHEN b.m > 0 THEN coalesce(r.n, 0)::double precision / b.m ELSE 0.0 END,
       %(as_of)s
FROM intel.events e
CROSS JOIN busiest b
LEFT JOIN sold s ON s.event_id = e.event_id
LEFT JOIN recent r ON r.event_id = e.event_id
ON CONFLICT (event_id) DO UPDATE
SET tickets_sold = EXCLUDED.tickets_sold, capacity = EXCLUDED.capacity, sales_24h = EXCLUDED.sales_24h,
    max_sales_24h = EXCLUDED.max_sales_24h, event_popularity_score = EXCLUDED.event_popularity_score,
    as_of = EXCLUDED.as_of
"""


@dataclass
class FeatureJobSummary:
    mode: Mode
    as_of: datetime
    rows_written: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cache_keys_invalidated: int = 0


def snapshot_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def transfer_graph(conn: psycopg.Connection, day: date) -> list[tuple[str, str, float]]:
    """seller -> buyer edges weighted by count, from the 30 days before the start of `day`."""
    end = day_start(day)
    rows = conn.execute(
        """SELECT from_address, to_address, count(*) FROM intel.chain_events
           WHERE event_name = 'Transfer' AND from_address <> %s
             AND block_time >= %s AND block_time < %s
           GROUP BY from_address, to_address""",
        (ZERO_ADDRESS, end - CENTRALITY_WINDOW, end),
    ).fetchall()
    return [(src, dst, float(n)) for src, dst, n in rows]


def centrality_snapshot(conn: psycopg.Connection, day: date) -> dict[str, float]:
    return pagerank(transfer_graph(conn, day))


def write_centrality(conn: psycopg.Connection, day: date) -> int:
    ranks = centrality_snapshot(conn, day)
    conn.execute("DELETE FROM intel.wallet_centrality WHERE snapshot_day = %s", (day,))
    conn.execute(
        """INSERT INTO intel.centrality_snapshots (snapshot_day, nodes) VALUES (%s, %s)
           ON CONFLICT (snapshot_day) DO UPDATE SET nodes = EXCLUDED.nodes, computed_at = now()""",
        (day, len(ranks)),
    )
    if ranks:
        with conn.cursor().copy(
            "COPY intel.wallet_centrality (snapshot_day, address, pagerank) FROM STDIN"
        ) as copy:
            for address, rank in ranks.items():
                copy.write_row((day, address, rank))
    return len(ranks)


def run_feature_job(
    conn: psycopg.Connection, mode: Mode = "hourly", *, as_of: datetime | None = None, redis: Any = None
) -> FeatureJobSummary:
    """Recompute the feature tables of `mode` as of `as_of` (default: now). Idempotent: the same
    as_of twice writes the same values."""
    if mode not in ("hourly", "daily"):
        raise ValueError(f"mode must be 'hourly' or 'daily', got {mode!r}")
    as_of = as_of or datetime.now(UTC)
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    began = time.perf_counter()
    summary = FeatureJobSummary(mode=mode, as_of=as_of)
    if not conn.autocommit:
        conn.commit()
        conn.autocommit = True
    with conn.transaction():
        written = summary.rows_written
        written["wallet_hold_time"] = conn.execute(_HOLD_SQL, {"as_of": as_of}).rowcount
        written["event_popularity"] = conn.execute(
            _POPULARITY_SQL, {"as_of": as_of, "window": POPULARITY_WINDOW}
        ).rowcount
        if mode == "daily":
            written["wallet_attendance"] = conn.execute(_ATTENDANCE_SQL, {"as_of": as_of}).rowcount
            written["user_payment_diversity"] = conn.execute(
                _PAYMENT_SQL, {"as_of": as_of, "window": PAYMENT_WINDOW}
            ).rowcount
            written["wallet_centrality"] = write_centrality(conn, snapshot_day(as_of))
        conn.execute(
            "INSERT INTO intel.feature_runs (mode, as_of, rows_written) VALUES (%s, %s, %s)",
            (mode, as_of, Jsonb(written)),
        )
    if redis is not None:
        from shared.features.realtime import invalidate_entity_cache

        summary.cache_keys_invalidated = invalidate_entity_cache(redis)
    summary.seconds = time.perf_counter() - began
    return summary


def backfill_centrality(conn: psycopg.Connection, first: date, last: date) -> int:
    """Snapshots for every day in [first, last] (the daily job writes one day per run)."""
    total = 0
    day = first
    while day <= last:
        total += write_centrality(conn, day)
        day += timedelta(days=1)
    return total

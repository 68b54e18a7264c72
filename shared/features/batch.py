"""Batch feature jobs: set-based SQL writing the feature store tables as snapshots.

hourly: avg_ticket_hold_time and the first Transfer (intel.wallet_features), event_popularity_score
        and the 7-day price reference (intel.event_features)
daily:  the hourly ones + cross_event_attendance (intel.wallet_features),
        payment_method_diversity (intel.user_features), wallet_centrality (intel.wallet_centrality,
        PageRank per UTC day)

A run at time `as_of` brings each table to its cadence's snapshot of the boundary in force at that time
(shared.features.cadence: the hourly one of HH:00 from HH:20, the daily one of 00:00 from 02:20),
each from the data strictly before its boundary. So the tables after a run at t hold exactly what
the training-set builder gives a transaction at t, and a late or repeated run of the same slot
writes the same values. A run writes only the rows whose value changed (`rows_written`): each statement
compares the new value with the stored one in a join and hands only the differences to the UPSERT (whose
WHERE keeps a concurrent run from rewriting them), so that an hourly run over a marketplace's wallets costs
one pass over them, not a rewrite (or a speculative insert) of every wallet: two UPSERTs of every wallet
an hour were most of the feature job's time. A row's `*_as_of` is the snapshot that last changed it, and
intel.feature_runs records every run's snapshots.
After the commit, the snapshot is published to the Redis cache (shared.features.redis_store): the
snapshot generation is bumped, so that no request that read the old tables writes them back, and the
cached entity features are dropped, so that the next read refreshes them from these tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from shared.features.cadence import DAILY, HOURLY, snapshot_day
from shared.features.formulas import (
    CENTRALITY_WINDOW,
    PAYMENT_WINDOW,
    POPULARITY_WINDOW,
    PRICE_REFERENCE_WINDOW,
)
from shared.features.pagerank import pagerank
from shared.features.redis_store import invalidate_entity_cache
from shared.identifiers import ZERO_ADDRESS

Mode = Literal["hourly", "daily"]

_HOLD_SQL = """
INSERT INTO intel.wallet_features AS f (address, avg_ticket_hold_time, hold_as_of)
SELECT w.address, h.avg_hours, %(as_of)s
FROM intel.wallets w
LEFT JOIN (SELECT holder, avg(hold_hours) AS avg_hours FROM intel.ticket_holds
           WHERE sent_at < %(as_of)s GROUP BY holder) h ON h.holder = w.address
LEFT JOIN intel.wallet_features cur ON cur.address = w.address
WHERE cur.address IS NULL OR cur.avg_ticket_hold_time IS DISTINCT FROM h.avg_hours
ON CONFLICT (address) DO UPDATE
SET avg_ticket_hold_time = EXCLUDED.avg_ticket_hold_time, hold_as_of = EXCLUDED.hold_as_of
WHERE f.avg_ticket_hold_time IS DISTINCT FROM EXCLUDED.avg_ticket_hold_time
"""

_ATTENDANCE_SQL = """
INSERT INTO intel.wallet_features AS f (address, cross_event_attendance, attendance_as_of)
SELECT w.address, coalesce(a.events, 0), %(as_of)s
FROM intel.wallets w
LEFT JOIN (SELECT c.to_address, count(DISTINCT tk.event_id) AS events
           FROM intel.chain_events c JOIN intel.tickets tk ON tk.ticket_id = c.token_id::bigint
           WHERE c.event_name = 'Transfer' AND c.block_time < %(as_of)s
           GROUP BY c.to_address) a ON a.to_address = w.address
LEFT JOIN intel.wallet_features cur ON cur.address = w.address
WHERE cur.address IS NULL OR cur.cross_event_attendance IS DISTINCT FROM coalesce(a.events, 0)
ON CONFLICT (address) DO UPDATE
SET cross_event_attendance = EXCLUDED.cross_event_attendance, attendance_as_of = EXCLUDED.attendance_as_of
WHERE f.cross_event_attendance IS DISTINCT FROM EXCLUDED.cross_event_attendance
"""

# intel.wallets.first_seen_at is the first Transfer the chain loader has seen, ever; before the
# boundary it is that time, or nothing yet.
_FIRST_SEEN_SQL = """
INSERT INTO intel.wallet_features AS f (address, first_seen_at, first_seen_as_of)
SELECT w.address, CASE WHEN w.first_seen_at < %(as_of)s THEN w.first_seen_at END, %(as_of)s
FROM intel.wallets w
LEFT JOIN intel.wallet_features cur ON cur.address = w.address
WHERE cur.address IS NULL
   OR cur.first_seen_at IS DISTINCT FROM (CASE WHEN w.first_seen_at < %(as_of)s THEN w.first_seen_at END)
ON CONFLICT (address) DO UPDATE
SET first_seen_at = EXCLUDED.first_seen_at, first_seen_as_of = EXCLUDED.first_seen_as_of
WHERE f.first_seen_at IS DISTINCT FROM EXCLUDED.first_seen_at
"""

_PAYMENT_SQL = """
INSERT INTO intel.user_features AS f (user_id, payment_method_diversity, as_of)
SELECT u.user_id, coalesce(p.instruments, 0), %(as_of)s
FROM intel.users u
LEFT JOIN (SELECT user_id, count(DISTINCT payment_instrument) AS instruments FROM intel.transactions
           WHERE occurred_at >= %(as_of)s - %(window)s AND occurred_at < %(as_of)s
           GROUP BY user_id) p ON p.user_id = u.user_id
LEFT JOIN intel.user_features cur ON cur.user_id = u.user_id
WHERE cur.user_id IS NULL OR cur.payment_method_diversity IS DISTINCT FROM coalesce(p.instruments, 0)
ON CONFLICT (user_id) DO UPDATE
SET payment_method_diversity = EXCLUDED.payment_method_diversity, as_of = EXCLUDED.as_of
WHERE f.payment_method_diversity IS DISTINCT FROM EXCLUDED.payment_method_diversity
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
), reference AS (
    SELECT event_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY price_paid) AS price FROM intel.transactions
    WHERE occurred_at >= %(as_of)s - %(price_window)s AND occurred_at < %(as_of)s GROUP BY event_id
)
INSERT INTO intel.event_features AS f
    (event_id, tickets_sold, capacity, sales_24h, max_sales_24h, event_popularity_score, ref_price_7d, as_of)
SELECT e.event_id, coalesce(s.n, 0), e.capacity, coalesce(r.n, 0), b.m,
       0.5 * least(1.0, coalesce(s.n, 0)::double precision / e.capacity)
       + 0.5 * CASE WHEN b.m > 0 THEN coalesce(r.n, 0)::double precision / b.m ELSE 0.0 END,
       p.price, %(as_of)s
FROM intel.events e
CROSS JOIN busiest b
LEFT JOIN sold s ON s.event_id = e.event_id
LEFT JOIN recent r ON r.event_id = e.event_id
LEFT JOIN reference p ON p.event_id = e.event_id
ON CONFLICT (event_id) DO UPDATE
SET tickets_sold = EXCLUDED.tickets_sold, capacity = EXCLUDED.capacity, sales_24h = EXCLUDED.sales_24h,
    max_sales_24h = EXCLUDED.max_sales_24h, event_popularity_score = EXCLUDED.event_popularity_score,
    ref_price_7d = EXCLUDED.ref_price_7d, as_of = EXCLUDED.as_of
"""


@dataclass
class FeatureJobSummary:
    mode: Mode
    as_of: datetime  # the run's time; the snapshots' boundaries are in `snapshots`
    snapshots: dict[str, datetime] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cache_keys_invalidated: int = 0


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
    """Bring the feature tables of `mode` to what scoring should read at `as_of` (default: now):
    the hourly snapshot of HOURLY.snapshot_at(as_of), and for "daily" also the daily snapshot of
    DAILY.snapshot_at(as_of). Idempotent: any time in the same slot writes the same values."""
    if mode not in ("hourly", "daily"):
        raise ValueError(f"mode must be 'hourly' or 'daily', got {mode!r}")
    as_of = as_of or datetime.now(UTC)
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    began = time.perf_counter()
    hourly = HOURLY.snapshot_at(as_of)
    summary = FeatureJobSummary(mode=mode, as_of=as_of, snapshots={"hourly": hourly})
    if not conn.autocommit:
        conn.commit()
        conn.autocommit = True
    with conn.transaction():
        written = summary.rows_written
        written["wallet_hold_time"] = conn.execute(_HOLD_SQL, {"as_of": hourly}).rowcount
        written["wallet_first_seen"] = conn.execute(_FIRST_SEEN_SQL, {"as_of": hourly}).rowcount
        written["event_popularity"] = conn.execute(
            _POPULARITY_SQL,
            {"as_of": hourly, "window": POPULARITY_WINDOW, "price_window": PRICE_REFERENCE_WINDOW},
        ).rowcount
        if mode == "daily":
            daily = summary.snapshots["daily"] = DAILY.snapshot_at(as_of)
            written["wallet_attendance"] = conn.execute(_ATTENDANCE_SQL, {"as_of": daily}).rowcount
            written["user_payment_diversity"] = conn.execute(
                _PAYMENT_SQL, {"as_of": daily, "window": PAYMENT_WINDOW}
            ).rowcount
            written["wallet_centrality"] = write_centrality(conn, snapshot_day(daily))
        conn.execute(
            "INSERT INTO intel.feature_runs (mode, as_of, rows_written, snapshots) VALUES (%s, %s, %s, %s)",
            (mode, as_of, Jsonb(written), Jsonb({k: v.isoformat() for k, v in summary.snapshots.items()})),
        )
    if redis is not None:
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

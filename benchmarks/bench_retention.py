"""Retention on a marketplace of 200,000 events a day: the transaction logs of `--days` days (one
marketplace.orders row per event, generated in bulk by SQL with generate_series: the benchmark
measures the archiver, not a simulator), all past their 90-day hot age, archived by the real code
path (shared/retention: batches written, read back and verified, deleted, personal fields
encrypted per user) to a local archive root; then, in the same run, one month of the same rows
dropped from PostgreSQL two ways: row DELETE on the plain table vs DETACH + DROP of the month's
partition of a monthly range-partitioned copy.

The archive's cipher before and after issue 21, in the same run: the same rows archived twice, first
with the v1 field cipher (the hand-built SIV, benchmarks/retention_v1_baseline.py: the baseline), then
with today's code (RFC 5297 AES-SIV from `cryptography`, subject keys wrapped under a local master key
as KMS wraps them in AWS); and the field cipher alone (seals per second, v1 vs v2).

Prints rows/s (both ciphers), archive bytes vs PostgreSQL bytes (table and indexes), and both drop times.
Usage: python benchmarks/bench_retention.py [--events-per-day N] [--days N] [--batch-rows N]
Uses DATABASE_URL when set (a scratch database is created on that server), else an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_etl import scratch_database
from benchmarks.retention_v1_baseline import encrypt_v1
from shared.retention.job import RetentionRun, run_retention
from shared.retention.keyring import Keyring, LocalMasterKey
from shared.retention.policy import TablePolicy, policy
from shared.retention.shred import SubjectKeys
from shared.retention.store import LocalStore, Stores
from tooling.local.services import LocalServices

FIRST_DAY = datetime(2026, 1, 1, tzinfo=UTC)
USERS = 20_000
TICKETS = 5_000


def generate(conn: psycopg.Connection, events_per_day: int, days: int) -> int:
    """`days` days of orders, `events_per_day` a day, spread over each day; users, wallets, one event
    and a ticket pool for the foreign keys."""
    conn.execute(
        """INSERT INTO marketplace.events (event_id, name, venue, city, country, category, capacity, face_value,
               sale_starts_at, starts_at, created_at)
           VALUES (1, 'Bench', 'Hall', 'Paris', 'FR', 'concert', 100000, 50, %s, %s, %s)""",
        (FIRST_DAY - timedelta(days=30), FIRST_DAY + timedelta(days=400), FIRST_DAY - timedelta(days=30)),
    )
    conn.execute(
        """INSERT INTO marketplace.users (user_id, email, display_name, country, created_at)
           SELECT u, 'user' || u || '@example.com', 'User ' || u, 'FR', %s FROM generate_series(1, %s) u""",
        (FIRST_DAY - timedelta(days=60), USERS),
    )
    conn.execute(
        """INSERT INTO marketplace.wallets (address, user_id, created_at)
           SELECT '0x' || lpad(to_hex(u), 40, '0'), u, %s FROM generate_series(1, %s) u""",
        (FIRST_DAY - timedelta(days=60), USERS),
    )
    conn.execute(
        """INSERT INTO marketplace.tickets (ticket_id, event_id, seat, face_value, minted_at)
           SELECT t, 1, 'S' || t, 50, %s FROM generate_series(1, %s) t""",
        (FIRST_DAY - timedelta(days=30), TICKETS),
    )
    total = events_per_day * days
    seconds_per_event = 86_400.0 * days / total
    conn.execute(
        """INSERT INTO marketplace.orders (order_id, transaction_id, ticket_id, event_id, buyer_user_id,
               buyer_wallet, kind, price, fee, payment_type, payment_instrument, client_ip, status, created_at)
           SELECT o, 'txn-' || o, 1 + o %% %(tickets)s, 1, 1 + o %% %(users)s,
                  '0x' || lpad(to_hex(1 + o %% %(users)s), 40, '0'), 'primary', 50 + (o %% 100), 2.5, 'card',
                  'card-fp-' || (o %% 50000), ('10.' || (o %% 200) || '.' || (o %% 250) || '.1')::inet, 'completed',
                  %(first)s + (o * %(step)s) * interval '1 second'
             FROM generate_series(0, %(total)s - 1) o""",
        {"tickets": TICKETS, "users": USERS, "first": FIRST_DAY, "step": seconds_per_event, "total": total},
    )
    conn.commit()
    vacuum(conn, "marketplace.orders")
    return total


def vacuum(conn: psycopg.Connection, *tables: str) -> None:
    conn.autocommit = True
    for table in tables:
        conn.execute(f"VACUUM ANALYZE {table}")
    conn.autocommit = False


def relation_bytes(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (table,)).fetchone()
    return int(row[0]) if row else 0


def drop_month_both_ways(conn: psycopg.Connection, days: int) -> tuple[int, float, float]:
    """The first month's rows out of a plain copy (DELETE) and out of a partitioned copy (DETACH + DROP)."""
    month_end = FIRST_DAY + timedelta(days=min(31, days))
    conn.execute("CREATE TABLE bench_plain (LIKE marketplace.orders INCLUDING DEFAULTS)")
    conn.execute("INSERT INTO bench_plain SELECT * FROM marketplace.orders_copy")
    conn.execute("ALTER TABLE bench_plain ADD PRIMARY KEY (order_id)")
    conn.execute("CREATE INDEX ON bench_plain (created_at)")
    conn.execute("CREATE INDEX ON bench_plain (buyer_user_id, created_at)")
    conn.execute(
        "CREATE TABLE bench_parted (LIKE marketplace.orders INCLUDING DEFAULTS) PARTITION BY RANGE (created_at)"
    )
    start = FIRST_DAY
    while start < FIRST_DAY + timedelta(days=days + 31):
        end = (start + timedelta(days=32)).replace(day=1)
        conn.execute(
            sql.SQL("CREATE TABLE {} PARTITION OF bench_parted FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(f"bench_parted_{start:%Y%m}"), sql.Literal(start), sql.Literal(end)
            )
        )
        start = end
    conn.execute("INSERT INTO bench_parted SELECT * FROM marketplace.orders_copy")
    conn.execute("ALTER TABLE bench_parted ADD PRIMARY KEY (order_id, created_at)")
    conn.execute("CREATE INDEX ON bench_parted (created_at)")
    conn.execute("CREATE INDEX ON bench_parted (buyer_user_id, created_at)")
    conn.commit()
    vacuum(conn, "bench_plain", "bench_parted")

    began = time.perf_counter()
    deleted = conn.execute("DELETE FROM bench_plain WHERE created_at < %s", (month_end,)).rowcount
    conn.commit()
    delete_s = time.perf_counter() - began

    began = time.perf_counter()
    conn.execute(f"ALTER TABLE bench_parted DETACH PARTITION bench_parted_{FIRST_DAY:%Y%m}")
    conn.execute(f"DROP TABLE bench_parted_{FIRST_DAY:%Y%m}")
    conn.commit()
    detach_s = time.perf_counter() - began
    return deleted, delete_s, detach_s


def cipher_alone(fields: int, subjects: int = 2_000) -> tuple[float, float]:
    """Seconds to seal `fields` IP-like fields of `subjects` subjects: v1 (baseline) and v2."""
    keys = SubjectKeys({f"user:{i}": (f"k-{i}", os.urandom(32)) for i in range(subjects)})
    work = [(f"user:{i % subjects}", f"10.{i % 200}.{i % 250}.{i % 256}") for i in range(fields)]
    context = "marketplace.orders.client_ip"
    began = time.perf_counter()
    for subject, value in work:
        encrypt_v1(keys, subject, context, value)
    v1_s = time.perf_counter() - began
    began = time.perf_counter()
    for subject, value in work:
        keys.encrypt(subject, context, value)
    return v1_s, time.perf_counter() - began


def print_cipher_alone(fields: int) -> None:
    v1_s, v2_s = cipher_alone(fields)
    print(
        f"field cipher alone, {fields:,} IP fields: v1 hand-built SIV (baseline) "
        f"{v1_s / fields * 1e6:.1f} us/field vs v2 AES-SIV (cryptography) "
        f"{v2_s / fields * 1e6:.1f} us/field: {v1_s / max(v2_s, 1e-9):.2f}x"
    )


def archive_pass(
    conn: psycopg.Connection, root: Path, as_of: datetime, batch_rows: int, orders: TablePolicy, *, v1: bool
) -> tuple[RetentionRun, float]:
    """The rows of marketplace.orders_copy archived from scratch (no ledger, no subject keys yet)."""
    conn.execute("TRUNCATE retention.batches, retention.subject_keys")
    if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM marketplace.orders)").fetchone() == (True,):
        conn.execute(
            "INSERT INTO marketplace.orders SELECT * FROM marketplace.orders_copy"
        )  # the previous pass's
    conn.commit()
    vacuum(conn, "marketplace.orders", "retention.subject_keys")
    for part in ("archive", "audit"):
        shutil.rmtree(root / part, ignore_errors=True)
    stores = Stores(LocalStore(root / "archive"), LocalStore(root / "audit"))
    keyring = Keyring(LocalMasterKey(os.urandom(64)))  # KMS's stand-in: wrapping_keys grows by one a pass
    v2_encrypt = SubjectKeys.encrypt
    if v1:
        SubjectKeys.encrypt = encrypt_v1  # type: ignore[method-assign]
    try:
        began = time.perf_counter()
        run = run_retention(conn, stores, as_of, batch_rows=batch_rows, policies=(orders,), keyring=keyring)
        seconds = time.perf_counter() - began
    finally:
        SubjectKeys.encrypt = v2_encrypt  # type: ignore[method-assign]
    return run, seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events-per-day", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--batch-rows", type=int, default=20_000)
    parser.add_argument("--cipher-fields", type=int, default=200_000)
    args = parser.parse_args()
    orders = policy("marketplace.orders")
    as_of = FIRST_DAY + timedelta(days=args.days + orders.data_type.hot_days)

    with LocalServices.from_env() as services, tempfile.TemporaryDirectory(prefix="tg-archive-") as root:
        assert services.database_url
        with scratch_database(services.database_url, "bench_retention") as url, psycopg.connect(url) as conn:
            conn.execute("SET statement_timeout = 0")
            print(
                f"generating {args.days} days x {args.events_per_day:,} events/day (SQL generate_series) ..."
            )
            began = time.perf_counter()
            total = generate(conn, args.events_per_day, args.days)
            print(f"  {total:,} marketplace.orders rows in {time.perf_counter() - began:.1f} s")
            conn.execute("CREATE TABLE marketplace.orders_copy AS SELECT * FROM marketplace.orders")
            conn.commit()
            pg_bytes = relation_bytes(conn, "marketplace.orders")

            print_cipher_alone(args.cipher_fields)
            rates = {}
            for name, v1 in (
                ("the v1 hand-built SIV (baseline; key handling as today)", True),
                ("v2 AES-SIV (cryptography)", False),
            ):
                run, seconds = archive_pass(conn, Path(root), as_of, args.batch_rows, orders, v1=v1)
                [table] = run.tables
                assert table.rows_archived == total and run.complete, run.as_dict()
                left = conn.execute("SELECT count(*) FROM marketplace.orders").fetchone()
                archive_bytes = sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())
                rates[v1] = table.rows_archived / seconds
                print(
                    f"archive with {name}: {table.rows_archived:,} rows in {table.batches} batches of "
                    f"<= {args.batch_rows:,}, {seconds:.1f} s: {rates[v1]:,.0f} rows/s (write, read back + "
                    f"verify, delete); rows left in PostgreSQL: {left[0] if left else '?'}"
                )
            print(f"archive throughput after/before (v2 / v1 baseline): {rates[False] / rates[True]:.2f}x")
            print(
                f"size: archive {archive_bytes / 1e6:,.1f} MB (gzip JSON lines + manifests) vs PostgreSQL "
                f"{pg_bytes / 1e6:,.1f} MB (marketplace.orders with its indexes): "
                f"{pg_bytes / max(archive_bytes, 1):.1f}x smaller"
            )
            deleted, delete_s, detach_s = drop_month_both_ways(conn, args.days)
            print(
                f"one month ({deleted:,} rows) out of PostgreSQL: row DELETE {delete_s:.2f} s (baseline) vs "
                f"DETACH + DROP PARTITION {detach_s:.3f} s: {delete_s / max(detach_s, 1e-6):,.0f}x faster"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

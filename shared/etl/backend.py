"""Backend extraction: the marketplace.* tables, incrementally by an (updated_at, primary key)
watermark, validated, geolocated and normalised into intel.*.

All tables are read in one REPEATABLE READ snapshot, parents before children, so that a child
row (an order) is never read without the parent it references (its ticket): the marketplace's
foreign keys then hold in intel too. Each table then loads in batches; a batch, its rejects and
its watermark commit together, so a crash loses at most the batch in flight.

Watermark caveat: a backend transaction that commits long after it stamped `updated_at` can fall
behind a watermark already past it; `settle_seconds` reads only rows older than that lag.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from shared.etl.load import copy_upsert, read_checkpoint, record_rejects, write_checkpoint
from shared.geo import Geolocator, default_geolocator

Row = dict[str, Any]
Rejects = list[tuple[str, str, dict[str, Any]]]


@dataclass(frozen=True)
class TableSpec:
    name: str  # marketplace table
    key: str  # its primary key (watermark tie-break)
    select: str  # columns read
    target: str  # intel table
    columns: tuple[str, ...]
    target_key: tuple[str, ...]
    update: tuple[str, ...] | None = None  # None: every non-key column
    times: tuple[str, ...] = ("updated_at",)  # its timestamptz columns (read only when in range)


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "users", "user_id", "user_id, email, country, created_at, updated_at",
        "intel.users", ("user_id", "email_hash", "country", "created_at", "updated_at"), ("user_id",),
        times=("created_at", "updated_at"),
    ),
    TableSpec(
        "wallets", "address", "address, user_id, created_at, updated_at",
        "intel.wallets", ("address", "user_id", "created_at", "updated_at"), ("address",),
        times=("created_at", "updated_at"),
    ),
    TableSpec(
        "events", "event_id",
        "event_id, name, category, country, capacity, face_value, sale_starts_at, starts_at, updated_at",
        "intel.events",
        ("event_id", "name", "category", "country", "capacity", "face_value", "sale_starts_at", "starts_at", "updated_at"),
        ("event_id",),
        times=("sale_starts_at", "starts_at", "updated_at"),
    ),
    TableSpec(
        "tickets", "ticket_id", "ticket_id, event_id, face_value, minted_at, updated_at",
        "intel.tickets", ("ticket_id", "event_id", "face_value", "minted_at", "updated_at"), ("ticket_id",),
        times=("minted_at", "updated_at"),
    ),
    TableSpec(
        "orders", "order_id",
        "order_id, transaction_id, ticket_id, event_id, buyer_user_id, buyer_wallet, seller_wallet, kind, price, fee,"
        " currency, payment_type, payment_instrument, host(client_ip) AS client_ip, status, created_at, updated_at",
        "intel.transactions",
        (
            "transaction_id", "order_id", "ticket_id", "event_id", "user_id", "wallet_address", "seller_wallet",
            "kind", "price_paid", "fee", "payment_instrument", "client_ip", "geo_country", "geo_lat", "geo_lon",
            "status", "occurred_at", "updated_at",
        ),
        ("transaction_id",),
        times=("created_at", "updated_at"),
    ),
    TableSpec(
        "sessions", "session_id", "session_id, user_id, host(ip) AS ip, user_agent, started_at, ended_at, updated_at",
        "intel.sessions",
        ("session_id", "user_id", "ip", "geo_country", "user_agent_hash", "started_at", "ended_at", "updated_at"),
        ("session_id",),
        times=("started_at", "ended_at", "updated_at"),
    ),
    TableSpec(
        "login_attempts", "attempt_id",
        "attempt_id, user_id, email, host(ip) AS ip, success, failure_reason, is_admin, attempted_at, updated_at",
        "intel.login_attempts",
        ("attempt_id", "user_id", "email_hash", "ip", "geo_country", "success", "failure_reason", "is_admin",
         "attempted_at", "updated_at"),
        ("attempt_id",),
        times=("attempted_at", "updated_at"),
    ),
)  # fmt: skip
TABLE_NAMES = tuple(spec.name for spec in TABLES)
# The key a reject of the table is recorded under (an order by its transaction id, as its other rejects).
_REJECT_KEY = {spec.name: spec.key for spec in TABLES} | {"orders": "transaction_id"}
# A timestamp no reader can take (shared/instants.py's range): year 1 BC, year 10000. Such a row is
# read with the value masked and quarantined (intel.etl_rejects, reason `time_out_of_range`): the
# run goes on, the row stays in marketplace.* for someone to fix.
_READABLE = "{c} BETWEEN '1970-01-01T00:00:00Z'::timestamptz AND '9999-12-30T00:00:00Z'::timestamptz"
UNREADABLE = "unreadable_times"
# A child's parent column, the intel table that must hold it, the reject's reason (the parent was
# quarantined; the intel foreign keys would refuse the child). Orders check their ticket themselves.
_PARENTS = {
    "wallets": ("user_id", "intel.users", "unknown_user"),
    "tickets": ("event_id", "intel.events", "unknown_event"),
}


def readable_select(spec: TableSpec) -> str:
    """The table's select list with each timestamp read only when in range, and `unreadable_times`
    naming the ones that are not (empty when none), over the table aliased `src`."""
    select = spec.select
    flags = []
    for column in spec.times:
        readable = _READABLE.format(c=f"src.{column}")
        select = re.sub(
            rf"\b{column}\b", f"CASE WHEN {readable} THEN src.{column} END AS {column}", select, count=1
        )
        flags.append(f"CASE WHEN NOT ({readable}) THEN '{column} ' || src.{column}::text END")
    return f"{select}, concat_ws(', ', {', '.join(flags)}) AS {UNREADABLE}"


@dataclass
class TableStats:
    read: int = 0
    written: int = 0
    rejected: int = 0
    batches: int = 0


@dataclass
class BackendStats:
    tables: dict[str, TableStats] = field(default_factory=dict)
    fees_loaded_usd: float = 0.0  # fees of completed orders read in this run (the RevenueUsd metric)
    seconds: dict[str, float] = field(default_factory=lambda: {"extract": 0.0, "transform": 0.0, "load": 0.0})

    @property
    def read(self) -> int:
        return sum(t.read for t in self.tables.values())

    @property
    def written(self) -> int:
        return sum(t.written for t in self.tables.values())

    @property
    def rejected(self) -> int:
        return sum(t.rejected for t in self.tables.values())


def checkpoint_job(table: str) -> str:
    return f"backend:{table}"


def extract(
    conn: psycopg.Connection,
    tables: Sequence[TableSpec] = TABLES,
    *,
    since: datetime | None = None,
    settle_seconds: float = 0.0,
) -> dict[str, list[Row]]:
    """Rows changed since each table's watermark (or since `since`), from one consistent snapshot."""
    out: dict[str, list[Row]] = {}
    if not conn.autocommit:
        conn.commit()
    previous = conn.autocommit
    conn.autocommit = False
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.cursor(row_factory=dict_row) as cursor:
            for spec in tables:
                where = ["src.updated_at <= now() - make_interval(secs => %(settle)s)"]
                params: dict[str, Any] = {"settle": settle_seconds}
                if since is not None:
                    where.append("src.updated_at >= %(since)s")
                    params["since"] = since
                else:
                    mark = read_checkpoint(conn, checkpoint_job(spec.name))
                    if mark is not None:
                        where.append(f"(src.updated_at, src.{spec.key}) > (%(mark_at)s, %(mark_key)s)")
                        params["mark_at"] = mark["updated_at"]
                        params["mark_key"] = mark["key"]
                cursor.execute(
                    f"SELECT {readable_select(spec)} FROM marketplace.{spec.name} AS src"
                    f" WHERE {' AND '.join(where)} ORDER BY src.updated_at, src.{spec.key}",
                    params,
                )
                out[spec.name] = cursor.fetchall()
        conn.commit()
    finally:
        conn.isolation_level = None
        conn.autocommit = previous
    return out


# ------------------------------------------------------------------ transform
def _email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class _Transformer:
    """Per-table validation and normalisation; each bad record gets one named reason."""

    def __init__(self, conn: psycopg.Connection, geolocator: Geolocator) -> None:
        self.conn = conn
        self.geo = geolocator
        self._ticket_events: dict[int, int] = {}

    def remember_tickets(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self._ticket_events[row["ticket_id"]] = row["event_id"]

    def _ticket_event(self, ticket_ids: set[int]) -> dict[int, int]:
        missing = [t for t in ticket_ids if t not in self._ticket_events]
        if missing:
            for ticket_id, event_id in self.conn.execute(
                "SELECT ticket_id, event_id FROM intel.tickets WHERE ticket_id = ANY(%s)", (missing,)
            ).fetchall():
                self._ticket_events[ticket_id] = event_id
        return self._ticket_events

    def transform(self, table: str, rows: list[Row]) -> tuple[list[tuple[Any, ...]], Rejects]:
        """The rows to load and the rejects: a row with a timestamp no reader can take is quarantined
        (`time_out_of_range`), and so is a child of a quarantined row (its parent is not in intel)."""
        rejects: Rejects = []
        readable = []
        for r in rows:
            if r.get(UNREADABLE):
                rejects.append((str(r[_REJECT_KEY[table]]), "time_out_of_range", _jsonable(r)))
            else:
                readable.append(r)
        parent = _PARENTS.get(table)
        if parent is not None and readable:
            column, intel_table, reason = parent
            wanted = {r[column] for r in readable} - {None}
            found = {
                row[0]
                for row in self.conn.execute(
                    f"SELECT {column} FROM {intel_table} WHERE {column} = ANY(%s)", (list(wanted),)
                )
            }
            orphans = [r for r in readable if r[column] is not None and r[column] not in found]
            rejects += [(str(r[_REJECT_KEY[table]]), reason, _jsonable(r)) for r in orphans]
            readable = [r for r in readable if r[column] is None or r[column] in found]
        if table == "tickets":
            self.remember_tickets(readable)
        out, more = self._transform_rows(table, readable)
        return out, rejects + more

    def _transform_rows(self, table: str, rows: list[Row]) -> tuple[list[tuple[Any, ...]], Rejects]:
        out: list[tuple[Any, ...]] = []
        rejects: Rejects = []
        if table == "users":
            for r in rows:
                out.append(
                    (r["user_id"], _email_hash(r["email"]), r["country"], r["created_at"], r["updated_at"])
                )
        elif table == "wallets":
            for r in rows:
                out.append((r["address"], r["user_id"], r["created_at"], r["updated_at"]))
        elif table == "events":
            for r in rows:
                out.append(
                    (r["event_id"], r["name"], r["category"], r["country"], r["capacity"], r["face_value"],
                     r["sale_starts_at"], r["starts_at"], r["updated_at"])
                )  # fmt: skip
        elif table == "tickets":
            for r in rows:
                out.append((r["ticket_id"], r["event_id"], r["face_value"], r["minted_at"], r["updated_at"]))
        elif table == "orders":
            ticket_events = self._ticket_event({r["ticket_id"] for r in rows})
            for r in rows:
                reason = self._order_problem(r, ticket_events)
                if reason is not None:
                    rejects.append((r["transaction_id"], reason, _jsonable(r)))
                    continue
                point = self.geo.locate(r["client_ip"])
                out.append(
                    (r["transaction_id"], r["order_id"], r["ticket_id"], r["event_id"], r["buyer_user_id"],
                     r["buyer_wallet"], r["seller_wallet"], r["kind"], r["price"], r["fee"], r["payment_instrument"],
                     r["client_ip"], point.country, point.lat, point.lon, r["status"], r["created_at"], r["updated_at"])
                )  # fmt: skip
        elif table == "sessions":
            for r in rows:
                out.append(
                    (r["session_id"], r["user_id"], r["ip"], self.geo.locate(r["ip"]).country,
                     hashlib.sha256(r["user_agent"].encode()).hexdigest(), r["started_at"], r["ended_at"],
                     r["updated_at"])
                )  # fmt: skip
        elif table == "login_attempts":
            for r in rows:
                out.append(
                    (r["attempt_id"], r["user_id"], _email_hash(r["email"]), r["ip"], self.geo.locate(r["ip"]).country,
                     r["success"], r["failure_reason"], r["is_admin"], r["attempted_at"], r["updated_at"])
                )  # fmt: skip
        else:  # pragma: no cover - TABLES is closed
            raise ValueError(table)
        return out, rejects

    @staticmethod
    def _order_problem(r: Row, ticket_events: dict[int, int]) -> str | None:
        """The rules the marketplace schema does not enforce but the features rely on."""
        if r["ticket_id"] not in ticket_events:
            return "unknown_ticket"
        if ticket_events[r["ticket_id"]] != r["event_id"]:
            return "event_does_not_match_ticket"
        if r["currency"] != "USD":
            return "unsupported_currency"
        if r["fee"] > r["price"]:
            return "fee_exceeds_price"
        if r["seller_wallet"] is not None and r["seller_wallet"] == r["buyer_wallet"]:
            return "buyer_is_seller"
        return None


def _jsonable(row: Row) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, datetime | Decimal) else v) for k, v in row.items()}


def load_backend(
    conn: psycopg.Connection,
    extracted: dict[str, list[Row]],
    *,
    geolocator: Geolocator | None = None,
    batch_rows: int = 20_000,
    stats: BackendStats | None = None,
    after_batch: Callable[[str, int], None] | None = None,
    advance_watermark: bool = True,
) -> BackendStats:
    """Transform and load extracted rows table by table (parents first), batch by batch."""
    stats = stats or BackendStats()
    transformer = _Transformer(conn, geolocator or default_geolocator())
    if not conn.autocommit:
        conn.commit()
        conn.autocommit = True
    for spec in TABLES:
        rows = extracted.get(spec.name, [])
        table_stats = stats.tables.setdefault(spec.name, TableStats())
        for start in range(0, len(rows), batch_rows):
            batch = rows[start : start + batch_rows]
            began = time.perf_counter()
            out, rejects = transformer.transform(spec.name, batch)
            if spec.name == "orders":
                rejected_keys = {key for key, _, _ in rejects}
                stats.fees_loaded_usd += float(
                    sum(
                        r["fee"]
                        for r in batch
                        if r["status"] == "completed" and r["transaction_id"] not in rejected_keys
                    )
                )
            transformed = time.perf_counter()
            with conn.transaction():
                # rows and watermark are lost together or not at all: no need to wait for the fsync
                conn.execute("SET LOCAL synchronous_commit = off")
                written = copy_upsert(
                    conn, spec.target, spec.columns, out, key=spec.target_key, update=spec.update
                )
                record_rejects(conn, f"backend.{spec.name}", rejects)
                last = batch[-1]
                if advance_watermark and last["updated_at"] is not None:  # None: masked, out of range
                    write_checkpoint(
                        conn,
                        checkpoint_job(spec.name),
                        {"updated_at": last["updated_at"].isoformat(), "key": last[spec.key]},
                    )
            stats.seconds["transform"] += transformed - began
            stats.seconds["load"] += time.perf_counter() - transformed
            table_stats.read += len(batch)
            table_stats.written += written
            table_stats.rejected += len(rejects)
            table_stats.batches += 1
            if after_batch is not None:
                after_batch(spec.name, table_stats.batches)
        if table_stats.written >= 10_000:
            # the feature queries that follow are planned on these statistics
            conn.execute(f"ANALYZE {spec.target}")
    return stats


def sync_backend(
    conn: psycopg.Connection,
    *,
    since: datetime | None = None,
    settle_seconds: float = 0.0,
    geolocator: Geolocator | None = None,
    batch_rows: int = 20_000,
    after_batch: Callable[[str, int], None] | None = None,
) -> BackendStats:
    """Extract what changed and load it. With `since`, re-reads that window without moving the
    watermarks (a repair run); otherwise continues from each table's watermark."""
    stats = BackendStats()
    began = time.perf_counter()
    extracted = extract(conn, since=since, settle_seconds=settle_seconds)
    stats.seconds["extract"] = time.perf_counter() - began
    return load_backend(
        conn,
        extracted,
        geolocator=geolocator,
        batch_rows=batch_rows,
        stats=stats,
        after_batch=after_batch,
        advance_watermark=since is None,
    )

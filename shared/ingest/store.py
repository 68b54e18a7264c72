"""Accepted facts into PostgreSQL: one transaction per batch, so a crash mid-batch leaves nothing
and the rerun stores every event exactly once.

- The `ingest.events` ledger holds the id of every applied event: an id found there is a duplicate,
  answered as such and not applied again.
- Each table's upsert overwrites a row only with a newer fact, so late and out-of-order deliveries
  resolve by `occurred_at` (`labelled_at` for `fraud_labels`). The rule: the later `occurred_at` wins,
  compared to the nanosecond (`source_occurred_at` + `source_occurred_ns`); at an equal one, the fact
  ingested later wins (a later batch, or later in its batch): the last word the marketplace sent.
- The facts of a batch are written a type at a time (one set-based statement per table), parents first (users, events
  before wallets, tickets, orders), so a batch may carry a new user and its wallet together.
- A fact about a row that does not exist yet (a wallet of an unknown user) is rejected naming the
  field, and is not put in the ledger: sent again once its parent is in, it is applied.
- A write the database refuses (a constraint, a value it cannot hold) rejects that event with the
  database's reason; the rest of the batch is stored (each event then in its own savepoint: nothing
  that lives past the transaction, so PgBouncer's transaction pooling and RDS Proxy are fine).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from shared.ingest.external_ids import resolve_text_ids
from shared.ingest.models import IngestEvent
from shared.ingest.validation import EventResult

# The stored row's fact is older than (or as old as, and so sent before) the one arriving: overwritten.
_NEWER = (
    "{t}.source_occurred_at IS NULL OR ({t}.source_occurred_at, {t}.source_occurred_ns)"
    " <= ({n}.source_occurred_at, {n}.source_occurred_ns)"
)
# Of several facts about one row in one statement, the one kept: the newest, the last sent at a tie.
_NEWEST_FIRST = "source_occurred_at DESC, source_occurred_ns DESC, ordinality DESC"


def _upsert(table: str, key: str, columns: tuple[str, ...], updated: tuple[str, ...] | None = None) -> str:
    """One statement for a whole group: the rows arrive as one JSON array typed by the table's own row
    type; of several facts about one row in the group, the newest is kept (an upsert may not touch a
    row twice), and it overwrites the stored row only when it is newer."""
    alias = table.split(".")[1]
    names = ", ".join((*columns, "source_occurred_at", "source_occurred_ns"))
    sets = ", ".join(
        f"{c} = EXCLUDED.{c}" for c in (*(updated or columns), "source_occurred_at", "source_occurred_ns")
    )
    return (
        f"INSERT INTO {table} AS {alias} ({names}) "
        f"SELECT DISTINCT ON ({key}) {names} FROM jsonb_populate_recordset(NULL::{table}, %(rows)s)"
        f" WITH ORDINALITY AS r ORDER BY {key}, {_NEWEST_FIRST} "
        f"ON CONFLICT ({key}) DO UPDATE SET {sets}, updated_at = now() "
        f"WHERE {_NEWER.format(t=alias, n='EXCLUDED')}"
    )


def _newest(columns: str, key: str) -> str:
    """The group's rows (typed `columns`), the newest fact per `key`."""
    return (
        f"(SELECT DISTINCT ON ({key}) * FROM ROWS FROM (jsonb_to_recordset(%(rows)s) AS ({columns}))"
        f" WITH ORDINALITY AS r ORDER BY {key}, {_NEWEST_FIRST}) AS r"
    )


@dataclass(frozen=True)
class Reference:
    field: str  # in `data`
    table: str
    column: str


@dataclass(frozen=True)
class Writer:
    types: tuple[str, ...]
    sqls: tuple[str, ...]  # none: the fact is kept in the ledger only
    params: Callable[[IngestEvent], dict[str, Any]]
    references: tuple[Reference, ...] = ()


def _fields(event: IngestEvent, **extra: Any) -> dict[str, Any]:
    return {
        **event.data.model_dump(),
        "source_occurred_at": event.occurred_at,
        "source_occurred_ns": event.occurred_at.nanosecond,
        **extra,
    }


def _order_fields(event: IngestEvent) -> dict[str, Any]:
    fields = _fields(event, status=_ORDER_STATUS[event.type])
    return fields | {"client_ip": fields["buyer_ip"]}


def _label_fields(event: IngestEvent) -> dict[str, Any]:
    fields = _fields(event, is_fraud=event.type != "fraud.false_positive")
    return fields | {"source": "chargeback" if event.type == "chargeback.filed" else fields["source"]}


_USERS = Reference("user_id", "marketplace.users", "user_id")
_LABEL_COLUMNS = (
    "transaction_id text, is_fraud boolean, source text, source_occurred_at timestamptz,"
    " source_occurred_ns smallint"
)
_ORDER_STATUS = {"order.paid": "completed", "order.failed": "failed", "order.refunded": "refunded"}

# Parents before children; the ledger-only facts (no table holds them) last.
WRITERS: tuple[Writer, ...] = (
    Writer(
        ("user.created", "user.updated"),
        (
            _upsert(
                "marketplace.users", "user_id",
                ("user_id", "email", "display_name", "country", "kyc_level", "created_at"),
            ),
        ),
        _fields,
    ),
    Writer(
        ("event.listed",),
        (
            _upsert(
                "marketplace.events", "event_id",
                ("event_id", "name", "venue", "city", "country", "category", "capacity", "face_value",
                 "sale_starts_at", "starts_at", "created_at"),
            ),
        ),
        lambda e: _fields(e, created_at=e.occurred_at),
    ),
    Writer(
        ("wallet.linked",),
        (_upsert("marketplace.wallets", "address", ("address", "user_id", "created_at"), ("user_id",)),),
        lambda e: _fields(e, created_at=e.occurred_at),
        (_USERS,),
    ),
    Writer(
        ("ticket.minted",),
        (
            _upsert(
                "marketplace.tickets", "ticket_id",
                ("ticket_id", "event_id", "seat", "face_value", "owner_wallet", "minted_at", "mint_tx_hash"),
            ),
        ),
        lambda e: _fields(e, minted_at=e.occurred_at),
        (Reference("event_id", "marketplace.events", "event_id"),),
    ),
    Writer(
        ("ticket.transferred",),
        (
            "UPDATE marketplace.tickets AS tickets SET owner_wallet = r.to_wallet, updated_at = now(),"
            " source_occurred_at = r.source_occurred_at, source_occurred_ns = r.source_occurred_ns FROM "
            + _newest(
                "ticket_id bigint, to_wallet text, source_occurred_at timestamptz, source_occurred_ns smallint",
                "ticket_id",
            )
            + f" WHERE tickets.ticket_id = r.ticket_id AND ({_NEWER.format(t='tickets', n='r')})",
        ),
        _fields,
        (Reference("ticket_id", "marketplace.tickets", "ticket_id"),),
    ),
    Writer(
        tuple(_ORDER_STATUS),
        (
            _upsert(
                "marketplace.orders", "order_id",
                ("order_id", "transaction_id", "ticket_id", "event_id", "buyer_user_id", "buyer_wallet",
                 "seller_wallet", "kind", "price", "fee", "currency", "payment_type", "payment_instrument",
                 "client_ip", "status", "created_at"),
            ),
        ),
        _order_fields,
        (
            Reference("ticket_id", "marketplace.tickets", "ticket_id"),
            Reference("event_id", "marketplace.events", "event_id"),
            Reference("buyer_user_id", "marketplace.users", "user_id"),
            Reference("buyer_wallet", "marketplace.wallets", "address"),
        ),
    ),
    Writer(
        ("session.started", "session.ended"),
        (
            _upsert(
                "marketplace.sessions", "session_id",
                ("session_id", "user_id", "ip", "user_agent", "started_at", "ended_at"),
            ),
        ),
        _fields,
        (_USERS,),
    ),
    Writer(
        ("login.attempted",),
        (
            _upsert(
                "marketplace.login_attempts", "attempt_id",
                ("attempt_id", "user_id", "email", "ip", "success", "failure_reason", "is_admin", "attempted_at"),
            ),
        ),
        lambda e: _fields(e, attempted_at=e.occurred_at),
        (_USERS,),
    ),
    Writer(
        ("chargeback.filed", "fraud.confirmed", "fraud.false_positive"),
        (
            "INSERT INTO intel.fraud_labels AS l (transaction_id, is_fraud, source, labelled_at, labelled_ns)"
            " SELECT transaction_id, is_fraud, source, source_occurred_at, source_occurred_ns FROM "
            + _newest(_LABEL_COLUMNS, "transaction_id")
            + " ON CONFLICT (transaction_id) DO UPDATE SET is_fraud = EXCLUDED.is_fraud,"
            " source = EXCLUDED.source, labelled_at = EXCLUDED.labelled_at, labelled_ns = EXCLUDED.labelled_ns"
            " WHERE (l.labelled_at, l.labelled_ns) <= (EXCLUDED.labelled_at, EXCLUDED.labelled_ns)",
            # A chargeback also settles the order's status (when the order is there and older).
            "UPDATE marketplace.orders AS orders SET status = 'charged_back', updated_at = now(),"
            " source_occurred_at = r.source_occurred_at, source_occurred_ns = r.source_occurred_ns FROM "
            + _newest(_LABEL_COLUMNS, "transaction_id")
            + " WHERE r.source = 'chargeback' AND orders.transaction_id = r.transaction_id"
            + f" AND ({_NEWER.format(t='orders', n='r')})",
        ),
        _label_fields,
    ),
    # The newest listing of each ticket (the pricing experiment reads the resale premium from them).
    Writer(
        ("ticket.listed",),
        (
            _upsert(
                "marketplace.ticket_listings", "ticket_id", ("ticket_id", "seller_wallet", "price", "listed_at"),
            ),
        ),
        lambda e: _fields(e, listed_at=e.occurred_at),
        (Reference("ticket_id", "marketplace.tickets", "ticket_id"),),
    ),
    Writer(("order.placed",), (), _fields),
)  # fmt: skip


def _json_rows(rows: Iterable[dict[str, Any]]) -> Jsonb:
    """Rows as one JSON array parameter (decimals and instants as text, which PostgreSQL reads exactly)."""
    return Jsonb(list(rows), dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_scalar)


def _scalar(value: Any) -> str:
    # An instant to the microsecond, as timestamptz holds it (the nanoseconds travel in their own
    # column): PostgreSQL would round nine digits, and a rounded-up instant would be a later fact.
    return datetime.isoformat(value) if isinstance(value, datetime) else str(value)


WRITER_OF = {event_type: writer for writer in WRITERS for event_type in writer.types}

Indexed = tuple[int, IngestEvent]


def _rejected(index: int, event: IngestEvent, field: str, reason: str) -> EventResult:
    return EventResult(
        index=index, event_id=event.event_id, status="rejected", field=field, reason=f"{field}: {reason}"
    )


# What one event can make the database refuse: a value it cannot hold (SQLSTATE class 22), a
# constraint (23), a limit (54: a value too large for an index), or text no encoding takes. Anything
# else (the connection, a lock or statement timeout, a bug) is raised: the batch is retried whole.
REFUSALS: tuple[type[Exception], ...] = (
    psycopg.errors.DataError,
    psycopg.errors.IntegrityError,
    psycopg.errors.ProgramLimitExceeded,
    UnicodeError,
)
# Parents before children, in the batch's order otherwise: the order the writers apply a batch in.
_RANK = {event_type: rank for rank, writer in enumerate(WRITERS) for event_type in writer.types}


def store_events(conn: psycopg.Connection[Any], events: list[Indexed]) -> list[EventResult]:
    """Apply `events` (validated, ids unique in the batch) in one transaction; a result for each.
    Set-based first; when the database refuses something no single statement's fallback caught (the
    ledger's write of a fact no table holds), again event by event, each in its own savepoint (its rows
    and its ledger entry together), rejecting the refused ones with the database's reason."""
    try:
        with conn.transaction():
            return _store(conn, events)
    except REFUSALS:
        pass
    results: list[EventResult] = []
    for index, event in sorted(events, key=lambda item: (_RANK[item[1].type], item[0])):
        try:
            with conn.transaction():
                results += _store(conn, [(index, event)])
        except REFUSALS as exc:
            results.append(_refused(index, event, exc))
    return sorted(results, key=lambda result: result.index)


def _refused(index: int, event: IngestEvent, exc: Exception) -> EventResult:
    """The rejection of an event whose write the database refused, with its reason."""
    if isinstance(exc, psycopg.Error):
        column = exc.diag.column_name or exc.diag.constraint_name or ""
        field = f"data.{column}" if column else "data"
        reason = exc.diag.message_primary or type(exc).__name__
        detail = exc.diag.message_detail
        return _rejected(index, event, field, f"{reason} ({detail})" if detail else reason)
    return _rejected(index, event, "data", "holds text that cannot be encoded as UTF-8")


def _store(conn: psycopg.Connection[Any], events: list[Indexed]) -> list[EventResult]:
    results: list[EventResult] = []
    ids = [event.event_id for _, event in events]
    known = {
        row[0] for row in conn.execute("SELECT event_id FROM ingest.events WHERE event_id = ANY(%s)", (ids,))
    }
    fresh = []
    for index, event in events:
        if event.event_id in known:
            results.append(EventResult(index=index, event_id=event.event_id, status="duplicate"))
        else:
            fresh.append((index, event))
    # The ledger and the messages keep the ids as the marketplace sent them.
    sent = dict(fresh)
    fresh = resolve_text_ids(conn, fresh)
    applied: list[Indexed] = []
    for writer in WRITERS:
        group = [(index, event) for index, event in fresh if event.type in writer.types]
        if not group:
            continue
        group = _known_references(conn, writer, group, results, sent)
        applied += apply_group(conn, writer, group, results)
    applied = [(index, sent[index]) for index, _ in applied]
    conn.execute(
        "INSERT INTO ingest.events (event_id, type, occurred_at, occurred_ns, data)"
        " SELECT event_id, type, occurred_at, occurred_ns, data FROM jsonb_to_recordset(%s)"
        " AS r(event_id text, type text, occurred_at timestamptz, occurred_ns smallint, data jsonb)"
        " ON CONFLICT (event_id) DO NOTHING",
        (
            _json_rows(
                {
                    "event_id": e.event_id,
                    "type": e.type,
                    "occurred_at": e.occurred_at,
                    "occurred_ns": e.occurred_at.nanosecond,
                    "data": e.data.model_dump(mode="json"),
                }
                for _, e in applied
            ),
        ),
    )
    results += [
        EventResult(index=index, event_id=event.event_id, status="accepted") for index, event in applied
    ]
    return sorted(results, key=lambda result: result.index)


def _known_references(
    conn: psycopg.Connection[Any],
    writer: Writer,
    group: list[Indexed],
    results: list[EventResult],
    sent: dict[int, IngestEvent],
) -> list[Indexed]:
    """The events of `group` whose referenced rows exist; a rejection for each other one."""
    for reference in writer.references:
        values = {getattr(event.data, reference.field) for _, event in group} - {None}
        if not values:
            continue
        found = {
            row[0]
            for row in conn.execute(
                f"SELECT {reference.column} FROM {reference.table} WHERE {reference.column} = ANY(%s)",
                (list(values),),
            )
        }
        kept = []
        for index, event in group:
            value = getattr(event.data, reference.field)
            if value is None or value in found:
                kept.append((index, event))
            else:
                what = reference.table.split(".")[1].rstrip("s")
                results.append(
                    _rejected(
                        index,
                        event,
                        f"data.{reference.field}",
                        f"unknown {what} {getattr(sent[index].data, reference.field)!r}: send its fact first",
                    )
                )
        group = kept
    return group


def apply_group(
    conn: psycopg.Connection[Any], writer: Writer, group: list[Indexed], results: list[EventResult]
) -> list[Indexed]:
    """Write one type's events in one round of executemany; when a constraint refuses one of them
    (an email already taken by another user, a seat sold twice), again one by one, each in its own
    savepoint, rejecting the refused ones with the database's reason."""
    if not writer.sqls or not group:
        return group
    try:
        with conn.transaction(), conn.cursor() as cur:
            rows = {"rows": _json_rows(writer.params(event) for _, event in group)}
            for sql in writer.sqls:
                cur.execute(sql, rows)
        return group
    except REFUSALS:
        pass
    applied = []
    for index, event in group:
        try:
            with conn.transaction(), conn.cursor() as cur:
                for sql in writer.sqls:
                    cur.execute(sql, {"rows": _json_rows([writer.params(event)])})
            applied.append((index, event))
        except REFUSALS as exc:
            results.append(_refused(index, event, exc))
    return applied

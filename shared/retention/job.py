"""The retention run: for each table of the policy, rows past their hot age go to the archive (batch
by batch, shared/retention/batch.py) and then leave PostgreSQL; tables with no archive tier (user
sessions) are deleted in bounded batches. Bounded in time: a run stops planning batches when its
deadline is near and reports `complete: false`; the next round (shared/jobs/rounds.py: a Step Functions
loop in AWS invokes the function again with the same `as_of`) resumes from the ledger, so the 15-minute
limit never cuts a batch in half.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from shared.db.timeouts import STATEMENT_TIMEOUT_MS
from shared.observability import logger
from shared.retention import batch as batches
from shared.retention.keyring import Keyring, keyring_from_settings
from shared.retention.policy import POLICIES, TablePolicy
from shared.retention.store import Stores


def cutoff_of(policy: TablePolicy, as_of: datetime) -> datetime:
    return as_of - timedelta(days=policy.data_type.hot_days)


def _action(policy: TablePolicy) -> str:
    return "archive, then delete" if policy.data_type.archived else "delete"


@dataclass
class TableRun:
    table: str
    data_type: str
    action: str  # "archive, then delete" | "delete"
    cutoff: str
    batches: int = 0
    rows_archived: int = 0
    rows_deleted: int = 0
    archive_bytes: int = 0
    rows_quarantined: int = 0  # newly, this run (retention.quarantine holds them all)
    complete: bool = True


@dataclass
class RetentionRun:
    as_of: str
    dry_run: bool
    tables: list[TableRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return all(t.complete for t in self.tables)

    def as_dict(self) -> dict[str, Any]:
        totals = {
            name: sum(getattr(t, name) for t in self.tables)
            for name in ("batches", "rows_archived", "rows_deleted", "archive_bytes", "rows_quarantined")
        }
        return {**asdict(self), **totals, "complete": self.complete}


def _unreadable_sql(policy: TablePolicy, action: str) -> sql.Composed:
    """`action` over the policy's rows with a timestamp no reader takes (shared/retention/batch.py)."""
    return sql.SQL(action).format(
        table=sql.Literal(policy.table),
        k=batches.key_sql(policy),
        tbl=batches.table_sql(policy),
        ok=batches.readable(policy),
    )


_QUARANTINE = (
    "INSERT INTO retention.quarantine (source_table, row_key, reason, row_text)"
    " SELECT {table}, ({k})::text, 'time_out_of_range', r::text FROM {tbl} WHERE NOT ({ok})"
    " ON CONFLICT DO NOTHING"
)
_UNREADABLE_COUNT = "SELECT count(*) FROM {tbl} WHERE NOT ({ok})"


def quarantine(conn: psycopg.Connection, policy: TablePolicy) -> int:
    """Record the rows the run cannot process (a timestamp out of range) with their reason; the run
    leaves them where they are and goes on. The number newly recorded; its own transaction."""
    added = conn.execute(_unreadable_sql(policy, _QUARANTINE)).rowcount
    conn.commit()
    if added:
        logger.warning("retention quarantined rows", extra={"table": policy.table, "rows": added})
    return added


def _delete_expired(conn: psycopg.Connection, policy: TablePolicy, cutoff: datetime, rows: int) -> int:
    """One bounded batch of a table with no archive tier; its own transaction."""
    schema, name = policy.table.split(".")
    query = sql.SQL(
        "DELETE FROM {tbl} WHERE {k} IN (SELECT {k} FROM {tbl} WHERE {t} < %s AND {ok} ORDER BY {k} LIMIT %s)"
    ).format(
        tbl=sql.Identifier(schema, name),
        k=sql.Identifier(policy.key_column),
        t=sql.Identifier(policy.time_column),
        ok=batches.readable(policy),
    )
    deleted = conn.execute(query, (cutoff, rows)).rowcount
    conn.commit()
    return deleted


def run_retention(
    conn: psycopg.Connection,
    stores: Stores,
    as_of: datetime,
    *,
    batch_rows: int = 5_000,
    remaining_s: Callable[[], float] | None = None,
    margin_s: float = 60.0,
    hook: batches.Hook = batches.no_hook,
    policies: tuple[TablePolicy, ...] = POLICIES,
    keyring: Keyring | None = None,
) -> RetentionRun:
    """`keyring`: the subject keys' master key (default: from the environment, KMS in AWS); one per run,
    so that each key-encryption key is unwrapped once per run."""
    began = time.perf_counter()
    run = RetentionRun(as_of=as_of.isoformat(), dry_run=False)
    keyring = keyring or keyring_from_settings()

    def time_left() -> bool:
        return remaining_s is None or remaining_s() > margin_s

    for policy in policies:
        cutoff = cutoff_of(policy, as_of)
        archived = policy.data_type.archived
        table = TableRun(policy.table, policy.data_type.name, _action(policy), cutoff.isoformat())
        run.tables.append(table)
        table.rows_quarantined = quarantine(conn, policy)
        while True:
            if not time_left():
                table.complete = False
                break
            if not archived:
                deleted = _delete_expired(conn, policy, cutoff, batch_rows)
                if not deleted:
                    break
                table.batches += 1
                table.rows_deleted += deleted
                continue
            # A pending batch (a crash, or a deadline, cut it short) first, with its own cutoff.
            batch = batches.pending(conn, policy) or batches.plan(conn, policy, cutoff, batch_rows)
            if batch is None:
                break
            hook("planned", batch)
            manifest = batches.archive_batch(conn, stores, keyring, policy, batch, hook)
            table.batches += 1
            table.rows_archived += manifest.row_count
            table.rows_deleted += manifest.row_count
            table.archive_bytes += manifest.object_bytes
        logger.info("retention table", extra={"retention": asdict(table)})
    run.seconds = round(time.perf_counter() - began, 3)
    return run


@dataclass(frozen=True)
class PlannedMove:
    table: str
    data_type: str
    action: str
    cutoff: str
    rows: int
    oldest: str | None
    newest: str | None
    days: int
    key_range: tuple[str, str] | None
    destination: str | None
    pending_batches: int
    unreadable: int  # rows a run quarantines (a timestamp out of range) and leaves alone


def dry_run(
    conn: psycopg.Connection, stores: Stores, as_of: datetime, policies: tuple[TablePolicy, ...] = POLICIES
) -> list[PlannedMove]:
    """Exactly what a run at `as_of` would move, per table (it counts; it writes nothing)."""
    moves = []
    for policy in policies:
        cutoff = cutoff_of(policy, as_of)
        row = conn.execute(
            sql.SQL(
                "SELECT count(*), min({t}), max({t}), count(DISTINCT ({t} AT TIME ZONE 'UTC')::date), "
                "min({k})::text, max({k})::text FROM {tbl} WHERE {t} < %s AND {ok}"
            ).format(
                t=sql.Identifier(policy.time_column),
                k=batches.key_sql(policy),
                tbl=batches.table_sql(policy),
                ok=batches.readable(policy),
            ),
            (cutoff,),
        ).fetchone()
        assert row is not None
        unreadable = conn.execute(_unreadable_sql(policy, _UNREADABLE_COUNT)).fetchone()
        waiting = conn.execute(
            "SELECT count(*) FROM retention.batches WHERE source_table = %s AND state = 'pending'",
            (policy.table,),
        ).fetchone()
        archived = policy.data_type.archived
        moves.append(
            PlannedMove(
                table=policy.table,
                data_type=policy.data_type.name,
                action=_action(policy),
                cutoff=cutoff.isoformat(),
                rows=int(row[0]),
                oldest=row[1].astimezone(UTC).isoformat() if row[1] else None,
                newest=row[2].astimezone(UTC).isoformat() if row[2] else None,
                days=int(row[3]),
                key_range=(row[4], row[5]) if row[0] else None,
                destination=f"{stores.of(policy.data_type.bucket).name}/{policy.location}"
                if archived
                else None,
                pending_batches=int(waiting[0]) if waiting else 0,
                unreadable=int(unreadable[0]) if unreadable else 0,
            )
        )
    conn.commit()
    return moves


def retention_job(as_of: datetime, remaining_s: Callable[[], float] | None = None) -> dict[str, Any]:
    """One run against the configured database and archive (the Lambda's and the CLI's)."""
    from shared.db import connect
    from shared.retention.store import RetentionSettings, stores_from_settings

    settings = RetentionSettings()
    stores = stores_from_settings(settings)
    with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS["retention"]) as conn:
        run = run_retention(
            conn,
            stores,
            as_of,
            batch_rows=settings.retention_batch_rows,
            remaining_s=remaining_s,
            margin_s=settings.retention_margin_s,
        )
    return run.as_dict()

"""Bulk loading: COPY into a temporary staging table, then one INSERT ... ON CONFLICT upsert.

The upsert only rewrites a row when a value changed (`IS DISTINCT FROM`), so running the same
window twice changes nothing, not even `xmin`. Checkpoints live in intel.etl_checkpoints and are
written by the caller in the same transaction as the rows they cover.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb


def copy_upsert(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
    column_types: Sequence[str] | None = None,
) -> int:
    """Stage `rows` with COPY and upsert them into `table` (schema.name). Returns rows inserted or
    changed. `update=None` updates every non-key column; `update=[]` means insert-only. The staging
    table copies the target's column types unless `column_types` says otherwise."""
    schema, _, name = table.partition(".")
    staging = sql.Identifier(f"stage_{name}")
    target = sql.Identifier(schema, name)
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    _create_staging(conn, staging, target, columns, column_types)
    conn.execute(sql.SQL("TRUNCATE {}").format(staging))
    with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(staging, cols)) as copy:
        for row in rows:
            copy.write_row(row)
    to_update = [c for c in columns if c not in key] if update is None else list(update)
    # DISTINCT ON: a batch that holds the same key twice keeps one version ("cannot affect row a
    # second time" otherwise); insert-only loads skip the sort, DO NOTHING already keeps the first.
    select = (
        "SELECT DISTINCT ON ({key}) {cols} FROM {staging} ORDER BY {key} "
        if to_update
        else "SELECT {cols} FROM {staging} "
    )
    query = sql.SQL("INSERT INTO {target} AS t ({cols}) " + select + "ON CONFLICT ({key}) {conflict}").format(
        target=target,
        cols=cols,
        key=sql.SQL(", ").join(map(sql.Identifier, key)),
        staging=staging,
        conflict=_on_conflict(to_update),
    )
    cursor = conn.execute(query)
    return cursor.rowcount


def _create_staging(
    conn: psycopg.Connection,
    staging: sql.Identifier,
    target: sql.Identifier,
    columns: Sequence[str],
    column_types: Sequence[str] | None,
) -> None:
    """The temporary staging table (dropped at commit): the target's columns, or `column_types`."""
    if column_types is None:
        conn.execute(
            sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                staging, target
            )
        )
    else:
        conn.execute(
            sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DROP").format(
                staging,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))  # types are our constants
                    for c, t in zip(columns, column_types, strict=True)
                ),
            )
        )


def _on_conflict(to_update: Sequence[str]) -> sql.Composable:
    """Update the changed columns of `to_update` only when a value differs; nothing to update: DO NOTHING."""
    if not to_update:
        return sql.SQL("DO NOTHING")
    assignments = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in to_update
    )
    changed = sql.SQL(" OR ").join(
        sql.SQL("t.{0} IS DISTINCT FROM EXCLUDED.{0}").format(sql.Identifier(c)) for c in to_update
    )
    return sql.SQL("DO UPDATE SET {} WHERE {}").format(assignments, changed)


def insert_rows_one_by_one(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    key: Sequence[str],
) -> int:
    """The naive loader, one INSERT ... ON CONFLICT per row: the benchmark's baseline."""
    schema, _, name = table.partition(".")
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO NOTHING").format(
        sql.Identifier(schema, name),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        sql.SQL(", ").join(map(sql.Identifier, key)),
    )
    count = 0
    with conn.cursor() as cursor:
        for row in rows:
            cursor.execute(query, row)
            count += cursor.rowcount
    return count


def read_checkpoint(conn: psycopg.Connection, job: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT position FROM intel.etl_checkpoints WHERE job = %s", (job,)).fetchone()
    return dict(row[0]) if row else None


def write_checkpoint(conn: psycopg.Connection, job: str, position: dict[str, Any]) -> None:
    conn.execute(
        """INSERT INTO intel.etl_checkpoints (job, position, updated_at) VALUES (%s, %s, now())
           ON CONFLICT (job) DO UPDATE SET position = EXCLUDED.position, updated_at = now()""",
        (job, Jsonb(position)),
    )


def record_rejects(
    conn: psycopg.Connection, source: str, rejects: Sequence[tuple[str, str, dict[str, Any]]]
) -> int:
    """(natural_key, reason, payload) rows into intel.etl_rejects; the same reject twice is one row."""
    if not rejects:
        return 0
    return copy_upsert(
        conn,
        "intel.etl_rejects",
        ["source", "natural_key", "reason", "payload"],
        ((source, key, reason, json.dumps(payload, default=str)) for key, reason, payload in rejects),
        key=["source", "natural_key", "reason"],
        update=[],
        column_types=["text", "text", "text", "jsonb"],
    )

"""One archive batch, crash-safe: the rows of one table, one UTC day and one key range.

1. plan     the key range goes into the ledger (retention.batches, state `pending`), committed;
2. write    the rows of exactly that range, personal fields encrypted, as one object + a manifest
            (row count, checksums, key range);
3. verify   the object is read back: its row count and checksum must be the manifest's;
4. delete   in one transaction: the range's rows are locked, their checksum must still be the one
            archived (else the batch stays pending and is rewritten), they are deleted, and the
            ledger row is marked `done` in the same commit.

A crash after any step leaves a pending batch (or nothing); the next run resumes it before it plans
another one, rewriting the same object key (same rows, same bytes: AES-SIV and gzip without a
timestamp are deterministic). So a row is never deleted before its archive is verified, and never
archived twice: each range has one object key, and a rewrite replaces it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from shared.errors import Conflict
from shared.retention import codec
from shared.retention.keyring import Keyring
from shared.retention.policy import TablePolicy
from shared.retention.shred import SubjectKeys
from shared.retention.store import Stores

AUDIT_TABLE = "intel.audit_log"  # append-only (migration 0540): its purge says so

# Called after each step with the step's name ("planned", "written", "verified", "deleted" inside
# the delete transaction before its commit, "done"): the tests raise there to inject a crash.
Hook = Callable[[str, "Batch"], None]


def no_hook(step: str, batch: Batch) -> None:
    return None


class BatchChanged(Conflict):
    """The range's rows changed between the archive and the delete: the batch is rewritten next run."""


@dataclass(frozen=True)
class Batch:
    batch_id: str
    table: str
    day: date
    key_lo: str
    key_hi: str
    cutoff: datetime
    object_key: str
    manifest_key: str


@dataclass(frozen=True)
class Manifest:
    batch_id: str
    table: str
    day: str
    key_column: str
    key_lo: str
    key_hi: str
    cutoff: str
    row_count: int
    source_sha256: str  # of the rows' PostgreSQL text forms in key order (PostgreSQL computes it)
    object_sha256: str  # of the object's uncompressed content (personal fields encrypted)
    object_key: str
    manifest_key: str
    object_bytes: int
    key_ids: tuple[str, ...]  # the subject keys the object's encrypted fields use (GDPR export)


def key_sql(policy: TablePolicy) -> sql.Composable:
    """The key column, ordered bytewise when text (the same order in every query of a batch)."""
    column = sql.Identifier(policy.key_column)
    return sql.SQL('{} COLLATE "C"').format(column) if policy.key_type == "text" else column


# The instants every reader of a row can take (shared/instants.py's range: PostgreSQL, Python, Athena).
READABLE_FROM, READABLE_TO = "1970-01-01T00:00:00Z", "9999-12-30T00:00:00Z"


def time_columns(policy: TablePolicy) -> tuple[str, ...]:
    """The row's timestamps: its time column and every other one the archive writes."""
    others = tuple(
        name for name, kind in policy.columns if kind == "timestamp" and name != policy.time_column
    )
    return (policy.time_column, *others)


def readable(policy: TablePolicy) -> sql.Composable:
    """True for a row whose every timestamp is in range: the only rows a run plans, archives, deletes
    or counts. The others are quarantined (shared/retention/job.py) and left alone."""
    return sql.SQL(" AND ").join(
        sql.SQL("({c} IS NULL OR {c} BETWEEN {lo}::timestamptz AND {hi}::timestamptz)").format(
            c=sql.Identifier(name), lo=sql.Literal(READABLE_FROM), hi=sql.Literal(READABLE_TO)
        )
        for name in time_columns(policy)
    )


def _bound(policy: TablePolicy) -> sql.Composable:
    return sql.SQL("%s") if policy.key_type == "text" else sql.SQL("%s::bigint")


def table_sql(policy: TablePolicy) -> sql.Composable:
    """The policy's table, aliased `r` (the alias its `subject_sql` names)."""
    schema, name = policy.table.split(".")
    return sql.SQL("{}.{} AS r").format(sql.Identifier(schema), sql.Identifier(name))


def _in_batch(policy: TablePolicy) -> sql.Composable:
    """The batch's rows: its day (before the cutoff) and its key range."""
    time = sql.Identifier(policy.time_column)
    return sql.SQL("{t} >= %s AND {t} < %s AND {t} < %s AND {k} BETWEEN {b} AND {b} AND {ok}").format(
        t=time, k=key_sql(policy), b=_bound(policy), ok=readable(policy)
    )


def _params(batch: Batch) -> tuple[Any, ...]:
    start = datetime.combine(batch.day, datetime.min.time(), UTC)
    return (start, start + timedelta(days=1), batch.cutoff, batch.key_lo, batch.key_hi)


def batch_for(policy: TablePolicy, day: date, key_lo: str, key_hi: str, cutoff: datetime) -> Batch:
    digest = hashlib.sha256(f"{policy.table}|{day}|{key_lo}|{key_hi}".encode()).hexdigest()[:20]
    part = f"dt={day.isoformat()}/part-{digest}"
    return Batch(
        digest,
        policy.table,
        day,
        key_lo,
        key_hi,
        cutoff,
        f"{policy.location}{part}.jsonl.gz",
        f"{policy.manifest_prefix}{part}.json",
    )


def pending(conn: psycopg.Connection, policy: TablePolicy) -> Batch | None:
    row = conn.execute(
        "SELECT day, key_lo, key_hi, cutoff FROM retention.batches WHERE source_table = %s "
        "AND state = 'pending'",
        (policy.table,),
    ).fetchone()
    conn.commit()
    return batch_for(policy, row[0], row[1], row[2], row[3]) if row else None


def plan(conn: psycopg.Connection, policy: TablePolicy, cutoff: datetime, rows: int) -> Batch | None:
    """The next range to archive (oldest day first, at most `rows` rows), recorded as pending."""
    time = sql.Identifier(policy.time_column)
    oldest = conn.execute(
        sql.SQL("SELECT min({t}) FROM {tbl} WHERE {t} < %s AND {ok}").format(
            t=time, tbl=table_sql(policy), ok=readable(policy)
        ),
        (cutoff,),
    ).fetchone()
    if oldest is None or oldest[0] is None:
        conn.commit()
        return None
    day = oldest[0].astimezone(UTC).date()
    start = datetime.combine(day, datetime.min.time(), UTC)
    query = sql.SQL(
        "SELECT min(k)::text, max(k)::text FROM (SELECT {k} AS k FROM {tbl} "
        "WHERE {t} >= %s AND {t} < %s AND {t} < %s AND {ok} ORDER BY {k} LIMIT %s) s"
    ).format(k=key_sql(policy), tbl=table_sql(policy), t=time, ok=readable(policy))
    found = conn.execute(query, (start, start + timedelta(days=1), cutoff, rows)).fetchone()
    assert found is not None and found[0] is not None
    batch = batch_for(policy, day, found[0], found[1], cutoff)
    conn.execute(
        "INSERT INTO retention.batches (batch_id, source_table, day, key_lo, key_hi, cutoff, object_key)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (batch.batch_id, policy.table, day, batch.key_lo, batch.key_hi, cutoff, batch.object_key),
    )
    conn.commit()
    return batch


def _archive_form(name: str, kind: str) -> sql.Composable:
    """The column as the archive writes it, converted by PostgreSQL (C, not Python, per value)."""
    column = sql.SQL("r.{}").format(sql.Identifier(name))
    if kind == "timestamp":
        return sql.SQL("to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')").format(column)
    if kind.startswith("decimal"):
        return sql.SQL("{}::float8").format(column)  # numeric(12,2): exact in a double's shortest form
    if kind == "string":
        return sql.SQL("{}::text").format(column)  # inet without its /32, jsonb as JSON text
    return column


# The batch's checksum as PostgreSQL computes it: sha256 of the rows' text forms in key order. The
# same expression at write time and inside the delete transaction, so any change in between shows.
_DIGEST = (
    "encode(sha256(convert_to(coalesce(string_agg(whole::text, E'\\n' ORDER BY k), ''), 'UTF8')), 'hex')"
)


def _select(policy: TablePolicy) -> sql.Composed:
    """The batch's rows in archive form + subject, each carrying the batch's count and checksum
    (one statement: one snapshot for the rows and their checksum)."""
    forms = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(_archive_form(name, kind), sql.Identifier(f"c{i}"))
        for i, (name, kind) in enumerate(policy.columns)
    )
    names = sql.SQL(", ").join(sql.Identifier(f"c{i}") for i in range(len(policy.columns)))
    return sql.SQL(
        "WITH b AS (SELECT r AS whole, {k} AS k, {forms}, {subject} AS subject FROM {tbl} WHERE {where}) "
        "SELECT k, {names}, subject, (SELECT " + _DIGEST + " FROM b) FROM b ORDER BY k"
    ).format(
        k=key_sql(policy),
        forms=forms,
        names=names,
        subject=sql.SQL(policy.subject_sql),  # a constant expression of the policy table, never input
        tbl=table_sql(policy),
        where=_in_batch(policy),
    )


def _locked_digest(policy: TablePolicy) -> sql.Composed:
    return sql.SQL(
        "SELECT count(*), "
        + _DIGEST
        + " FROM (SELECT r AS whole, {k} AS k FROM {tbl} WHERE {where} FOR UPDATE OF r) s"
    ).format(k=key_sql(policy), tbl=table_sql(policy), where=_in_batch(policy))


def encode(
    conn: psycopg.Connection, keyring: Keyring, policy: TablePolicy, rows: list[tuple]
) -> tuple[bytes, tuple[str, ...]]:
    """The object's uncompressed content (personal fields encrypted) and the key ids it uses. A row
    is (key, the policy's columns..., subject, digest)."""
    names = [name for name, _ in policy.columns]
    personal = [(i, f"{policy.table}.{name}") for i, name in enumerate(names) if name in policy.personal]
    keys = SubjectKeys.ensure(conn, keyring, (row[-2] for row in rows)) if personal and rows else None
    used: set[str] = set()
    lines = []
    for row in rows:
        values = list(row[1:-2])
        if keys is not None:
            subject = row[-2]
            for i, context in personal:
                if values[i] is not None:
                    values[i] = keys.encrypt(subject, context, codec.as_text(values[i]))
            used.add(keys.key_id(subject))
        lines.append(codec.line(names, values))
    conn.commit()  # the new subjects' keys, before any object uses them
    return b"".join(lines), tuple(sorted(used))


def write(
    conn: psycopg.Connection, stores: Stores, keyring: Keyring, policy: TablePolicy, batch: Batch
) -> Manifest:
    rows = conn.execute(_select(policy), _params(batch)).fetchall()
    content, key_ids = encode(conn, keyring, policy, rows)
    body = codec.compress(content)
    manifest = Manifest(
        batch_id=batch.batch_id,
        table=policy.table,
        day=batch.day.isoformat(),
        key_column=policy.key_column,
        key_lo=batch.key_lo,
        key_hi=batch.key_hi,
        cutoff=batch.cutoff.isoformat(),
        row_count=len(rows),
        source_sha256=rows[0][-1] if rows else codec.sha256(b""),
        object_sha256=codec.sha256(content),
        object_key=batch.object_key,
        manifest_key=batch.manifest_key,
        object_bytes=len(body),
        key_ids=key_ids,
    )
    store = stores.of(policy.data_type.bucket)
    store.put(batch.object_key, body, content_type=codec.CONTENT_TYPE)
    store.put(
        batch.manifest_key, json.dumps(asdict(manifest), indent=1).encode(), content_type="application/json"
    )
    return manifest


class VerificationFailed(Conflict):
    """The object read back is not the one written: nothing is deleted."""


def verify(stores: Stores, policy: TablePolicy, manifest: Manifest) -> None:
    store = stores.of(policy.data_type.bucket)
    content, count = codec.read_lines(store.get(manifest.object_key))
    if count != manifest.row_count or codec.sha256(content) != manifest.object_sha256:
        raise VerificationFailed(
            f"{manifest.object_key}: read back {count} rows, sha256 {codec.sha256(content)[:12]}; "
            f"the manifest says {manifest.row_count}, {manifest.object_sha256[:12]}"
        )
    stored = json.loads(store.get(manifest.manifest_key))
    if stored.get("object_sha256") != manifest.object_sha256:
        raise VerificationFailed(f"{manifest.object_key}: the stored manifest is not this batch's")


def delete(
    conn: psycopg.Connection, policy: TablePolicy, batch: Batch, manifest: Manifest, hook: Hook
) -> int:
    """The verified range leaves PostgreSQL and the batch is done, in one transaction."""
    try:
        found = conn.execute(_locked_digest(policy), _params(batch)).fetchone()
        assert found is not None
        count, digest = int(found[0]), found[1]
        if (count, digest) != (manifest.row_count, manifest.source_sha256):
            raise BatchChanged(
                f"{policy.table} {batch.key_lo}..{batch.key_hi}: rows changed since they were archived "
                f"({count} now, {manifest.row_count} archived); the batch is rewritten next run"
            )
        if policy.table == AUDIT_TABLE:
            # The audit log refuses deletes except retention's own, of archived rows (migration 0540):
            # for this transaction only; its trigger moves the chain's anchor past them.
            conn.execute("SELECT set_config('ticketguard.audit_purge', 'on', true)")
        deleted = conn.execute(
            sql.SQL("DELETE FROM {tbl} WHERE {where}").format(tbl=table_sql(policy), where=_in_batch(policy)),
            _params(batch),
        ).rowcount
        if deleted != manifest.row_count:
            raise BatchChanged(f"{policy.table}: deleted {deleted} rows, archived {manifest.row_count}")
        conn.execute(
            "UPDATE retention.batches SET state = 'done', row_count = %s, source_sha256 = %s, "
            "object_bytes = %s, done_at = now() WHERE batch_id = %s AND state = 'pending'",
            (manifest.row_count, manifest.source_sha256, manifest.object_bytes, batch.batch_id),
        )
        hook("deleted", batch)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return deleted


def archive_batch(
    conn: psycopg.Connection,
    stores: Stores,
    keyring: Keyring,
    policy: TablePolicy,
    batch: Batch,
    hook: Hook = no_hook,
) -> Manifest:
    """Steps 2-4 for a planned (or resumed) batch."""
    manifest = write(conn, stores, keyring, policy, batch)
    hook("written", batch)
    verify(stores, policy, manifest)
    hook("verified", batch)
    delete(conn, policy, batch, manifest, hook)
    hook("done", batch)
    return manifest

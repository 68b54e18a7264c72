"""The queue's side of ingest: a queued batch in, its events stored and its outcome recorded, in one
transaction; the outcome read back by the batch's id.

POST /api/v1/events does not store anything itself: the gateway puts the request body on a queue
(API Gateway -> SQS in AWS, tooling.local.queue on a laptop) with the request's id as the batch id,
and answers 202. This module is what the consumer runs for each message. Exactly once:

- the events, the ledger (`ingest.events`) and the batch's row (`ingest.batches`) are written in one
  transaction, so a consumer that dies mid-batch leaves nothing, and the message comes back;
- a batch id already in `ingest.batches` was applied: a redelivered message changes nothing;
- PostgreSQL unavailable: DependencyUnavailable, the message is retried (and after the queue's
  receive limit it goes to the dead-letter queue, which pages);
- a body that is not a batch (only a sender that bypasses the gateway's validation can send one) is
  recorded as refused, with the reason: kept, answered, never retried forever, never dropped.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from psycopg.types.json import Jsonb
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field

from shared.db.connection import get_pool
from shared.errors import DependencyUnavailable, NotFound
from shared.ingest.store import store_events
from shared.ingest.validation import EventResult, read_batch, validate_events
from shared.instants import parse_instant
from shared.observability import logger, metrics
from shared.text import printable

# What GET /api/v1/events/batches/{batch_id} can ask for (shared.api.models.BatchPath).
_BATCH_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


class QueuedBatch(BaseModel):
    """One message of the ingest queue: the request body as the gateway received it."""

    batch_id: str = Field(min_length=1, max_length=128)
    body: str
    received_at: datetime
    api_key_id: str | None = None


class BatchOutcome(BaseModel):
    """GET /api/v1/events/batches/{batch_id}: what became of each event of a batch."""

    batch_id: str
    status: Literal["processed", "refused"]
    received_at: datetime
    processed_at: datetime
    accepted: int
    duplicates: int
    rejected: int
    error: str | None = None
    results: list[EventResult]


def consume(conn: psycopg.Connection[Any], batch: QueuedBatch) -> BatchOutcome:
    """Apply one queued batch (see the module's docstring); the outcome, new or recorded before."""
    try:
        with conn.transaction():
            seen = conn.execute(
                "SELECT 1 FROM ingest.batches WHERE batch_id = %s", (batch.batch_id,)
            ).fetchone()
            outcome = None if seen else _apply(conn, batch)
        # A redelivered batch answers what its first delivery recorded.
        return outcome or batch_outcome(conn, batch.batch_id)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DependencyUnavailable("the event store (PostgreSQL) is unavailable") from exc


def _apply(conn: psycopg.Connection[Any], batch: QueuedBatch) -> BatchOutcome:
    parsed = read_batch(batch.body)
    error = parsed if isinstance(parsed, str) else None
    results: list[EventResult] = []
    if not isinstance(parsed, str):
        # The clock-skew bound holds against the time the batch arrived, not the time it is consumed.
        valid, rejected = validate_events(parsed, now=batch.received_at)
        stored = store_events(conn, valid) if valid else []
        results = sorted([*stored, *rejected], key=lambda result: result.index)
    counts = {
        status: sum(r.status == status for r in results) for status in ("accepted", "duplicate", "rejected")
    }
    status = "refused" if error else "processed"
    row = conn.execute(
        "INSERT INTO ingest.batches (batch_id, api_key_id, received_at, status, accepted, duplicates,"
        " rejected, error, results) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING processed_at",
        (
            batch.batch_id,
            batch.api_key_id,
            batch.received_at,
            status,
            counts["accepted"],
            counts["duplicate"],
            counts["rejected"],
            error,
            Jsonb([r.model_dump(mode="json", exclude_none=True) for r in results]),
        ),
    ).fetchone()
    assert row is not None
    return BatchOutcome(
        batch_id=batch.batch_id,
        status=status,
        received_at=batch.received_at,
        processed_at=row[0],
        accepted=counts["accepted"],
        duplicates=counts["duplicate"],
        rejected=counts["rejected"],
        error=error,
        results=results,
    )


def batch_outcome(conn: psycopg.Connection[Any], batch_id: str) -> BatchOutcome:
    row = conn.execute(
        "SELECT batch_id, status, received_at, processed_at, accepted, duplicates, rejected, error, results"
        " FROM ingest.batches WHERE batch_id = %s",
        (batch_id,),
    ).fetchone()
    if row is None:
        raise NotFound(
            f"no processed batch {batch_id!r}: it is still queued (retry in a few seconds), "
            "or the id is not one POST /api/v1/events answered",
            field="batch_id",
        )
    names = ("batch_id", "status", "received_at", "processed_at", "accepted", "duplicates", "rejected")
    return BatchOutcome(
        **dict(zip(names, row[:7], strict=True)),
        error=row[7],
        results=[EventResult.model_validate(item) for item in row[8]],
    )


def queued_batch(
    body: str, *, batch_id: str, received_at: datetime | None = None, api_key_id: str | None = None
) -> QueuedBatch:
    return QueuedBatch(
        batch_id=batch_id, body=body, received_at=received_at or datetime.now(UTC), api_key_id=api_key_id
    )


def message_attributes(batch: QueuedBatch) -> dict[str, str]:
    """The message attributes the gateway sets (infra/ingest.py's request template says the same)."""
    attributes = {
        "batch_id": batch.batch_id,
        "received_at_ms": str(int(batch.received_at.timestamp() * 1000)),
    }
    if batch.api_key_id:
        attributes["api_key_id"] = batch.api_key_id
    return attributes


def from_message(body: str, attributes: dict[str, str], message_id: str) -> QueuedBatch:
    """A queue message (body + string attributes) -> the batch; a message without our attributes
    (sent around the gateway) still gets an id and a time, so it is answered, not lost; attributes
    the batch's row could not hold (an id GET cannot ask for, a time out of range, a NUL) are not used."""
    received_at = datetime.now(UTC)
    received_ms = attributes.get("received_at_ms", "")
    if received_ms.isdigit():
        with contextlib.suppress(OverflowError, ValueError, OSError):
            received_at = parse_instant(datetime.fromtimestamp(int(received_ms) / 1000, UTC))
    batch_id = attributes.get("batch_id") or ""
    api_key_id = attributes.get("api_key_id") or None
    return QueuedBatch(
        batch_id=batch_id if _BATCH_ID.fullmatch(batch_id) else message_id,
        body=body,
        received_at=received_at,
        api_key_id=None if api_key_id is None else printable(api_key_id),
    )


def consume_record(record: SQSRecord) -> BatchOutcome:
    """One SQS record (Powertools' batch processor calls this for each): raises to have it retried."""
    attributes = {
        name: value.string_value
        for name, value in record.message_attributes.items()
        if value.string_value is not None
    }
    batch = from_message(record.body, attributes, record.message_id)
    try:
        with get_pool().connection() as conn:
            outcome = consume(conn, batch)
    except PoolTimeout as exc:
        raise DependencyUnavailable("the event store (PostgreSQL) is unavailable") from exc
    # Named in full: the metrics catalogue's test finds each emitter by its literal name.
    metrics.add_metric(name="IngestEventsAccepted", unit=MetricUnit.Count, value=outcome.accepted)
    metrics.add_metric(name="IngestEventsDuplicate", unit=MetricUnit.Count, value=outcome.duplicates)
    metrics.add_metric(name="IngestEventsRejected", unit=MetricUnit.Count, value=outcome.rejected)
    if outcome.status == "refused":
        metrics.add_metric(name="IngestBatchesRefused", unit=MetricUnit.Count, value=1)
        logger.warning("ingest batch refused", extra={"batch_id": batch.batch_id, "error": outcome.error})
    return outcome

"""A batch in process, without a queue: what the ingest benchmark's baseline and the tests call.
The deployed path is shared.ingest.consumer behind a queue; both apply a batch the same way."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from shared.db.connection import get_pool
from shared.errors import DependencyUnavailable
from shared.ingest.consumer import BatchOutcome, consume, queued_batch


def ingest_events(raw_events: list[Any], *, now: datetime | None = None, pool: Any = None) -> BatchOutcome:
    """Every event answered: accepted (stored now), duplicate (stored before: nothing done) or rejected
    (with the field and the reason). DependencyUnavailable when PostgreSQL does not answer: nothing of
    the batch is stored then, and the whole batch may be sent again."""
    pool = pool or get_pool()
    batch = queued_batch(
        json.dumps({"events": raw_events}, default=str), batch_id=f"direct-{uuid.uuid4()}", received_at=now
    )
    try:
        with pool.connection() as conn:
            return consume(conn, batch)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DependencyUnavailable("the event store (PostgreSQL) is unavailable") from exc

"""A batch in, a result per event out: validate, then store what is valid (shared.ingest.store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from shared.errors import DependencyUnavailable
from shared.ingest.store import store_events
from shared.ingest.validation import IngestResponse, validate_events


def ingest_events(raw_events: list[Any], *, now: datetime | None = None, pool: Any = None) -> IngestResponse:
    """Every event answered: accepted (stored now), duplicate (stored before: nothing done) or rejected
    (with the field and the reason). DependencyUnavailable when PostgreSQL does not answer: nothing of
    the batch is stored then, and the whole batch may be sent again."""
    valid, rejected = validate_events(raw_events, now=now or datetime.now(UTC))
    stored = []
    if valid:
        if pool is None:
            from shared.db.connection import get_pool

            pool = get_pool()
        try:
            with pool.connection() as conn:
                stored = store_events(conn, valid)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise DependencyUnavailable("the event store (PostgreSQL) is unavailable") from exc
    results = sorted([*stored, *rejected], key=lambda result: result.index)
    return IngestResponse(
        accepted=sum(r.status == "accepted" for r in results),
        duplicates=sum(r.status == "duplicate" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        results=results,
    )

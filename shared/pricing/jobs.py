"""The settlement job: settle (or revise) the rewards of the assigned events whose sales are over,
in PostgreSQL and the hot statistics. Idempotent: a run that finds nothing new changes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from shared.cache.clients import job_redis
from shared.db.connection import connect
from shared.db.timeouts import STATEMENT_TIMEOUT_MS
from shared.pricing.rewards import settle


def settle_job(now: datetime | None = None) -> dict[str, Any]:
    """Settle as of `now` (default: the clock); a summary of what changed."""
    at = now or datetime.now(UTC)
    with connect(autocommit=True, statement_timeout_ms=STATEMENT_TIMEOUT_MS["pricing_settle"]) as conn:
        changed = settle(conn, job_redis(), at)
    return {
        "as_of": at.isoformat(),
        "settled": len(changed),
        "by_arm": dict(sorted(Counter(item.arm for item in changed).items())),
    }

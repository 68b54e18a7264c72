"""The settlement job: settle (or revise) the rewards of the assigned events whose sales are over,
in PostgreSQL and the hot statistics. Idempotent: a run that finds nothing new changes nothing.

Each completed run emits its heartbeat (PricingSettleRuns: the pricing-settle-stale alarm pages when
three hours pass without one) and the kill switch's state (PricingKillSwitch: pricing-kill-switch)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.cache.clients import job_redis
from shared.db.connection import connect
from shared.db.timeouts import STATEMENT_TIMEOUT_MS
from shared.observability import metrics
from shared.pricing.rewards import settle
from shared.pricing.service import kill_state


def settle_job(now: datetime | None = None) -> dict[str, Any]:
    """Settle as of `now` (default: the clock); a summary of what changed."""
    at = now or datetime.now(UTC)
    with connect(autocommit=True, statement_timeout_ms=STATEMENT_TIMEOUT_MS["pricing_settle"]) as conn:
        changed = settle(conn, job_redis(), at)
        killed, _ = kill_state(conn)
    metrics.add_metric(name="PricingKillSwitch", unit=MetricUnit.Count, value=int(killed))
    metrics.add_metric(name="PricingSettleRuns", unit=MetricUnit.Count, value=1)
    return {
        "as_of": at.isoformat(),
        "settled": len(changed),
        "by_arm": dict(sorted(Counter(item.arm for item in changed).items())),
        "kill_switch": killed,
    }

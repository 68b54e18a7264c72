"""Rewards from the sales that arrived through ingest (marketplace.orders and the chargebacks and
decisions beside them).

An event's reward is its net primary revenue over its face revenue (capacity x face value): the
primary orders that completed, leaving out every order scoring BLOCKED (intel.fraud_predictions)
and every order charged back (its status, or a chargeback label). It settles once the event has
started (its sales are over) and is settled again on each later run: a chargeback that arrives
weeks later revises it, in PostgreSQL and, through the hot statistics' script, in Redis.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import redis

from shared.pricing.arms import Arm
from shared.pricing.stats import drop_hot, record_hot

# Per assigned event whose sale is over: its counted revenue and sales, the sales left out.
_SETTLE = """
WITH sales AS (
    SELECT o.event_id, o.price,
           o.status = 'completed'
           AND NOT EXISTS (SELECT 1 FROM intel.fraud_predictions p
                            WHERE p.transaction_id = o.transaction_id AND p.decision = 'BLOCKED')
           AND NOT EXISTS (SELECT 1 FROM intel.fraud_labels l
                            WHERE l.transaction_id = o.transaction_id AND l.source = 'chargeback') AS counted
      FROM marketplace.orders o
      JOIN pricing.assignments a ON a.event_id = o.event_id
      JOIN marketplace.events e ON e.event_id = o.event_id
     WHERE o.kind = 'primary' AND o.status IN ('completed', 'charged_back') AND e.starts_at <= %(now)s
), totals AS (
    SELECT a.event_id, a.arm, e.capacity, e.face_value,
           coalesce(sum(s.price) FILTER (WHERE s.counted), 0) AS revenue,
           count(s.price) FILTER (WHERE s.counted) AS sold,
           count(s.price) FILTER (WHERE NOT s.counted) AS excluded
      FROM pricing.assignments a
      JOIN marketplace.events e ON e.event_id = a.event_id
      LEFT JOIN sales s ON s.event_id = a.event_id
     WHERE e.starts_at <= %(now)s
     GROUP BY a.event_id, a.arm, e.capacity, e.face_value
)
INSERT INTO pricing.rewards AS r (event_id, arm, revenue, sold, excluded, capacity, reward, settled_at)
SELECT event_id, arm, revenue, sold, excluded, capacity,
       (revenue / (capacity * greatest(face_value, 0.01)))::float8, %(now)s
  FROM totals
ON CONFLICT (event_id) DO UPDATE SET revenue = EXCLUDED.revenue, sold = EXCLUDED.sold,
       excluded = EXCLUDED.excluded, capacity = EXCLUDED.capacity, reward = EXCLUDED.reward,
       settled_at = EXCLUDED.settled_at
 WHERE (r.revenue, r.sold, r.excluded, r.capacity) IS DISTINCT FROM
       (EXCLUDED.revenue, EXCLUDED.sold, EXCLUDED.excluded, EXCLUDED.capacity)
RETURNING event_id, arm, reward
"""


@dataclass(frozen=True, slots=True)
class Settled:
    event_id: int
    arm: Arm
    reward: float


def settle(conn: psycopg.Connection[Any], client: redis.Redis | None, now: datetime) -> list[Settled]:
    """Settle (or revise) the reward of every assigned event whose sale is over; the new or changed
    ones, which are then recorded in the hot statistics. Idempotent: a second run changes nothing."""
    with conn.transaction():
        rows = conn.execute(_SETTLE, {"now": now}).fetchall()
    changed = [Settled(int(event_id), arm, float(reward)) for event_id, arm, reward in rows]
    if client is not None and changed:
        try:
            for item in changed:
                record_hot(client, conn, item.event_id, item.arm, item.reward)
        except redis.RedisError:
            # PostgreSQL has every row: forget the hot copy, the next read rebuilds it.
            with contextlib.suppress(redis.RedisError):
                drop_hot(client)
            raise
    return changed


def revenue_by_arm(conn: psycopg.Connection[Any]) -> dict[str, tuple[Decimal, int, int]]:
    """arm -> (revenue, tickets sold, capacity) over the settled events."""
    rows = conn.execute(
        "SELECT arm, coalesce(sum(revenue), 0), coalesce(sum(sold), 0), coalesce(sum(capacity), 0)"
        " FROM pricing.rewards GROUP BY arm"
    ).fetchall()
    return {str(arm): (Decimal(revenue), int(sold), int(capacity)) for arm, revenue, sold, capacity in rows}

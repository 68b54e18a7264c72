"""The experiment's operations: assign an event an arm (sticky) and quote its price, read the
experiment's state, set the kill switch.

The assignment is written once per event (INSERT ... ON CONFLICT DO NOTHING): two concurrent first
calls for one event agree on the arm the database kept, so a buyer only ever sees one arm's price.
"""

from __future__ import annotations

import math
import random
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import redis
from aws_lambda_powertools.metrics import MetricUnit

from shared.cache.clients import get_redis, mark_redis_down, mark_redis_up
from shared.config import get_settings
from shared.errors import NotFound, ValidationFailed
from shared.observability import metrics
from shared.pricing.arms import ARMS, STRATEGIES, Arm, EventContext, popularity, quote
from shared.pricing.models import ArmState, Assignment, AssignRequest, ExperimentState, Price
from shared.pricing.policy import ArmStats, best_arm, choose
from shared.pricing.rewards import revenue_by_arm
from shared.pricing.stats import durable_stats, hot_stats

EXPERIMENT = "dynamic-pricing"
_SYSTEM_RANDOM = random.SystemRandom()

_EVENT = """
SELECT e.event_id, e.category, e.capacity, e.face_value, e.sale_starts_at, e.starts_at
  FROM marketplace.events e
 WHERE e.event_id = coalesce(%(id)s,
       (SELECT internal_id FROM ingest.external_ids WHERE kind = 'event' AND external_id = %(text)s))
"""
_DEMAND = """
SELECT (SELECT count(*) FROM marketplace.orders o
         WHERE o.event_id = %(id)s AND o.kind = 'primary' AND o.status = 'completed'),
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY l.price / greatest(t.face_value, 0.01))
          FROM marketplace.ticket_listings l JOIN marketplace.tickets t USING (ticket_id)
         WHERE t.event_id = %(id)s)
"""


def _event(conn: psycopg.Connection[Any], event_id: int | str) -> tuple[Any, ...]:
    numeric = event_id if isinstance(event_id, int) else None
    row = conn.execute(_EVENT, {"id": numeric, "text": None if numeric else event_id}).fetchone()
    if row is None:
        raise NotFound(f"unknown event {event_id!r}: send its event.listed fact first", field="event_id")
    return tuple(row)


def arm_stats(conn: psycopg.Connection[Any]) -> tuple[dict[Arm, ArmStats], str]:
    """The arms' statistics and where they came from: Redis, or PostgreSQL when Redis is unavailable."""
    client = get_redis()
    if client is not None:
        try:
            stats = hot_stats(client, conn)
            mark_redis_up()
            return stats, "redis"
        except (redis.RedisError, OSError):
            mark_redis_down()
    return durable_stats(conn), "postgresql"


def kill_state(conn: psycopg.Connection[Any]) -> tuple[bool, str | None]:
    if get_settings().pricing_kill_switch:
        return True, "TG_PRICING_KILL_SWITCH is set"
    row = conn.execute(
        "SELECT killed, killed_reason FROM pricing.experiment WHERE experiment_id = %s", (EXPERIMENT,)
    )
    found = row.fetchone()
    return (bool(found[0]), found[1]) if found else (False, None)


def set_kill_switch(conn: psycopg.Connection[Any], killed: bool, reason: str | None) -> None:
    with conn.transaction():
        conn.execute(
            "INSERT INTO pricing.experiment (experiment_id, killed, killed_reason, updated_at)"
            " VALUES (%s, %s, %s, now()) ON CONFLICT (experiment_id) DO UPDATE"
            " SET killed = EXCLUDED.killed, killed_reason = EXCLUDED.killed_reason, updated_at = now()",
            (EXPERIMENT, killed, reason if killed else None),
        )


def _guardrails(
    request: AssignRequest, face: Decimal, stored: tuple[Any, ...] | None
) -> tuple[Decimal, Decimal]:
    settings = get_settings()
    default_floor = (face * Decimal(repr(settings.pricing_floor_ratio))).quantize(Decimal("0.01"))
    default_ceiling = (face * Decimal(repr(settings.pricing_ceiling_ratio))).quantize(Decimal("0.01"))
    floor = (
        request.price_floor if request.price_floor is not None else (stored[0] if stored else default_floor)
    )
    ceiling = (
        request.price_ceiling
        if request.price_ceiling is not None
        else (stored[1] if stored else default_ceiling)
    )
    if floor > ceiling:
        field = "price_floor" if request.price_floor is not None else "price_ceiling"
        raise ValidationFailed(f"price_floor {floor} would be above price_ceiling {ceiling}", field=field)
    return Decimal(floor), Decimal(ceiling)


def _sticky(
    conn: psycopg.Connection[Any],
    event_id: int,
    request: AssignRequest,
    face: Decimal,
    now: datetime,
    rng: random.Random,
) -> tuple[tuple[Any, ...], bool]:
    """(arm, explored, floor, ceiling, assigned_at) of the event, and whether this call assigned it."""
    stored = conn.execute(
        "SELECT price_floor, price_ceiling FROM pricing.assignments WHERE event_id = %s", (event_id,)
    ).fetchone()
    floor, ceiling = _guardrails(request, face, tuple(stored) if stored else None)
    new = False
    with conn.transaction():
        if stored is None:
            arm, explored = choose(arm_stats(conn)[0], get_settings().pricing_epsilon, rng)
            new = (
                conn.execute(
                    "INSERT INTO pricing.assignments (event_id, arm, explored, price_floor, price_ceiling, assigned_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                    (event_id, arm, explored, floor, ceiling, now),
                ).fetchone()
                is not None
            )
        if not new:
            conn.execute(
                "UPDATE pricing.assignments SET price_floor = %s, price_ceiling = %s, updated_at = now()"
                " WHERE event_id = %s AND (price_floor, price_ceiling) IS DISTINCT FROM (%s, %s)",
                (floor, ceiling, event_id, floor, ceiling),
            )
        row = conn.execute(
            "SELECT arm, explored, price_floor, price_ceiling, assigned_at FROM pricing.assignments WHERE event_id = %s",
            (event_id,),
        ).fetchone()
    assert row is not None
    return tuple(row), new


def _model_multiplier(conn: psycopg.Connection[Any], category: str) -> float | None:
    row = conn.execute(
        "SELECT multiplier FROM pricing.demand_models WHERE category = %s", (category,)
    ).fetchone()
    return float(row[0]) if row else None


def assign(
    conn: psycopg.Connection[Any], request: AssignRequest, now: datetime, rng: random.Random | None = None
) -> Assignment:
    """The event's arm (drawn epsilon-greedy on its first call, the stored one after) and its price now."""
    floor, ceiling = request.price_floor, request.price_ceiling
    if floor is not None and ceiling is not None and floor > ceiling:
        raise ValidationFailed(f"price_floor {floor} is above price_ceiling {ceiling}", field="price_floor")
    event_id, category, capacity, face, sale_starts_at, starts_at = _event(conn, request.event_id)
    (arm, explored, floor, ceiling, assigned_at), new = _sticky(
        conn, event_id, request, face, now, rng or _SYSTEM_RANDOM
    )
    sold, premium = conn.execute(_DEMAND, {"id": event_id}).fetchone() or (0, None)
    window = (starts_at - sale_starts_at).total_seconds()
    elapsed = min(1.0, max(0.0, (now - sale_starts_at).total_seconds() / window))
    demand = popularity(int(sold), int(capacity), elapsed, float(premium) if premium is not None else None)
    ctx = EventContext(face, sale_starts_at, starts_at, now, demand, _model_multiplier(conn, category))
    killed, _ = kill_state(conn)
    priced = quote(arm, ctx, floor, ceiling, killed=killed)
    if priced.clamped is not None:  # the pricing-guardrail-hits alarm counts them
        metrics.add_metric(name="PricingGuardrailHits", unit=MetricUnit.Count, value=1)
    return Assignment(
        event_id=event_id,
        arm=arm,
        strategy=STRATEGIES[arm],
        explored=explored,
        assigned_at=assigned_at.isoformat(),
        new=new,
        served_arm=priced.arm,
        kill_switch=killed,
        popularity=round(demand, 4),
        price=Price(
            amount=priced.price,
            face_value=face,
            multiplier=priced.multiplier,
            floor=floor,
            ceiling=ceiling,
            clamped=priced.clamped,
        ),
    )


def experiment_state(conn: psycopg.Connection[Any]) -> ExperimentState:
    """The arms' assignments, settled rewards, revenue and sell-through; the routing's best arm."""
    stats, source = arm_stats(conn)
    assigned = dict(conn.execute("SELECT arm, count(*) FROM pricing.assignments GROUP BY arm").fetchall())
    revenue = revenue_by_arm(conn)
    killed, reason = kill_state(conn)
    arms = []
    for arm in ARMS:
        money, sold, capacity = revenue.get(arm, (Decimal(0), 0, 0))
        variance = stats[arm].variance
        arms.append(
            ArmState(
                arm=arm,
                strategy=STRATEGIES[arm],
                events_assigned=int(assigned.get(arm, 0)),
                events_settled=stats[arm].n,
                mean_reward=round(m, 6) if (m := stats[arm].mean) is not None else None,
                reward_sd=round(math.sqrt(variance), 6) if variance is not None else None,
                revenue=money,
                sell_through=round(sold / capacity, 4) if capacity else None,
            )
        )
    models = {
        str(c): float(m) for c, m in conn.execute("SELECT category, multiplier FROM pricing.demand_models")
    }
    return ExperimentState(
        epsilon=get_settings().pricing_epsilon,
        kill_switch=killed,
        kill_reason=reason,
        best_arm=best_arm(stats),
        statistics_source=source,
        arms=arms,
        demand_models=models,
    )

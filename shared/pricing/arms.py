"""The four arms of spec 1.5 as price multipliers of an event's face value, and the guardrails.

- A fixed: the face value.
- B demand-based surge: +15% while the event's popularity is above 0.7.
- C early-bird: -10% in the first 48 h of sales, +20% in the last 48 h before the event (the last
  48 h win when the two overlap, on a sale window shorter than 96 h).
- D the demand model's revenue-optimal multiplier for the event's category (pricing.demand_models,
  trained offline); the face value while no model is trained for the category.

Every quote is then clamped into the event's [floor, ceiling]; the kill switch quotes arm A.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

Arm = Literal["A", "B", "C", "D"]
ARMS: tuple[Arm, ...] = ("A", "B", "C", "D")
STRATEGIES: dict[Arm, str] = {
    "A": "fixed",
    "B": "demand_surge",
    "C": "early_bird",
    "D": "demand_model",
}
SURGE_POPULARITY = 0.7
SURGE = 1.15
EARLY_WINDOW = timedelta(hours=48)
EARLY_DISCOUNT = 0.90
LATE_WINDOW = timedelta(hours=48)
LATE_PREMIUM = 1.20
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class EventContext:
    """What a strategy needs to know about an event at a moment."""

    face_value: Decimal
    sale_starts_at: datetime
    starts_at: datetime
    now: datetime
    popularity: float  # in [0, 1]; 0.7 = selling at the pace that sells out when the event starts
    model_multiplier: float | None = None  # arm D: the category's fitted optimum, None = untrained


def multiplier(arm: Arm, ctx: EventContext) -> float:
    """The arm's price multiplier of the face value at `ctx.now`."""
    if arm == "B":
        return SURGE if ctx.popularity > SURGE_POPULARITY else 1.0
    if arm == "C":
        if ctx.starts_at - ctx.now <= LATE_WINDOW:
            return LATE_PREMIUM
        if ctx.now - ctx.sale_starts_at < EARLY_WINDOW:
            return EARLY_DISCOUNT
        return 1.0
    if arm == "D":
        return ctx.model_multiplier if ctx.model_multiplier is not None else 1.0
    return 1.0


@dataclass(frozen=True, slots=True)
class Quote:
    arm: Arm
    price: Decimal
    multiplier: float  # the strategy's, before the guardrails
    clamped: Literal["floor", "ceiling"] | None
    kill_switch: bool


def quote(arm: Arm, ctx: EventContext, floor: Decimal, ceiling: Decimal, *, killed: bool = False) -> Quote:
    """The price a buyer sees: the strategy's (arm A's while the kill switch is set), within
    [floor, ceiling], to the cent."""
    served: Arm = "A" if killed else arm
    factor = multiplier(served, ctx)
    raw = (ctx.face_value * Decimal(repr(factor))).quantize(CENT, rounding=ROUND_HALF_EVEN)
    clamped: Literal["floor", "ceiling"] | None = None
    if raw < floor:
        raw, clamped = floor, "floor"
    elif raw > ceiling:
        raw, clamped = ceiling, "ceiling"
    return Quote(arm=served, price=raw, multiplier=factor, clamped=clamped, kill_switch=killed)


def popularity(sold: int, capacity: int, elapsed: float, resale_premium: float | None) -> float:
    """Demand in [0, 1]: 0.7 x the sales pace (the share of capacity sold over the share of the sale
    window elapsed: 1.0 sells out exactly when the event starts), or 0.7 x the resale listings' median
    price over face value when that is higher; capped at 1. So 0.7 is "on pace to sell out" or
    "resold at face", and arm B surges only above it."""
    pace = (sold / capacity) / max(elapsed, 0.05) if capacity > 0 else 0.0
    signal = max(pace, resale_premium or 0.0)
    return max(0.0, min(1.0, SURGE_POPULARITY * signal))

"""Arm D's demand model: a constant-elasticity fit per event category, trained offline.

Each settled event is one observation: its average counted price over its face value (the price
multiplier m it sold at) and its sell-through q (tickets sold over capacity). Per category,
log q = log scale + elasticity x log m by least squares; then the revenue-optimal multiplier of
revenue(m) = m x min(1, scale x m^elasticity) (capacity caps the sales):
- elasticity < -1: revenue rises with m while capacity binds and falls after: the optimum is the
  price that just sells out, m* = scale^(-1 / elasticity);
- elasticity >= -1 (inelastic): revenue rises with m everywhere: the upper bound.
m* is kept within [LOWEST, HIGHEST]; the event's own guardrails clamp the quote again.

Honest limits: a sold-out event is censored (its demand was at least its capacity, q = 1 says
"exactly"), so a category of mostly sold-out events fits too low a scale; a category needs
MIN_EVENTS events and some spread of prices (SPREAD in log m) to be fitted at all; else arm D
quotes the face value there. Pure Python: the simulation refits it as rewards settle.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

LOWEST = 0.7
HIGHEST = 1.5
MIN_EVENTS = 8
SPREAD = 0.02  # the least standard deviation of log m worth a slope


@dataclass(frozen=True, slots=True)
class Observation:
    category: str
    multiplier: float  # average counted price / face value
    sell_through: float  # sold / capacity, in (0, 1]


@dataclass(frozen=True, slots=True)
class DemandFit:
    category: str
    elasticity: float
    scale: float
    multiplier: float
    events: int


def optimal_multiplier(elasticity: float, scale: float) -> float:
    best = scale ** (-1 / elasticity) if elasticity < -1 else HIGHEST
    return min(HIGHEST, max(LOWEST, best))


def fit_category(category: str, points: list[Observation], min_events: int = MIN_EVENTS) -> DemandFit | None:
    """The category's fit, or None without enough events or price spread."""
    usable = [p for p in points if p.multiplier > 0 and p.sell_through > 0]
    if len(usable) < min_events:
        return None
    xs = [math.log(p.multiplier) for p in usable]
    ys = [math.log(min(1.0, p.sell_through)) for p in usable]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if math.sqrt(sxx / len(xs)) < SPREAD:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    scale = math.exp(mean_y - slope * mean_x)
    return DemandFit(category, slope, scale, optimal_multiplier(slope, scale), len(usable))


def fit(observations: Iterable[Observation], min_events: int = MIN_EVENTS) -> dict[str, DemandFit]:
    by_category: dict[str, list[Observation]] = defaultdict(list)
    for point in observations:
        by_category[point.category].append(point)
    fits = {c: fit_category(c, points, min_events) for c, points in sorted(by_category.items())}
    return {c: f for c, f in fits.items() if f is not None}


_OBSERVATIONS = """
SELECT e.category, (r.revenue / r.sold / greatest(e.face_value, 0.01))::float8, r.sold::float8 / r.capacity
  FROM pricing.rewards r JOIN marketplace.events e USING (event_id)
 WHERE r.sold > 0
"""


def train(conn: Any, min_events: int = MIN_EVENTS) -> dict[str, DemandFit]:
    """Fit every category from the settled events and store the fits (pricing.demand_models)."""
    fits = fit(
        (Observation(str(c), float(m), float(q)) for c, m, q in conn.execute(_OBSERVATIONS)), min_events
    )
    with conn.transaction():
        for item in fits.values():
            conn.execute(
                "INSERT INTO pricing.demand_models (category, elasticity, scale, multiplier, events, trained_at)"
                " VALUES (%s, %s, %s, %s, %s, now()) ON CONFLICT (category) DO UPDATE SET"
                " elasticity = EXCLUDED.elasticity, scale = EXCLUDED.scale, multiplier = EXCLUDED.multiplier,"
                " events = EXCLUDED.events, trained_at = EXCLUDED.trained_at",
                (item.category, item.elasticity, item.scale, item.multiplier, item.events),
            )
    return fits

"""A simulated market for the pricing experiment, on the simulator's demand.

The events are the simulator's (tooling/simulator/catalogue.py): a category by its share and a face
value in its range (tooling/simulator/vocabulary.py), a popularity lognormal(0, 1), a capacity
lognormal(0, 0.6) around a typical venue. The simulator sells every ticket at face value, so it has
no response to price; this market adds one, and says so in the report: each interested buyer has a
willingness to pay of face x exp(N(WTP_MU, sigma of the category)), and buys when the price is not
above it and a ticket is left. Interested buyers per event: Poisson(capacity x popularity^0.7); they
arrive 25% in the first 48 h of sales, 25% in the last 48 h, the rest evenly (so arm C's windows see
real traffic). Sale windows last 7-28 days; events are listed at the spec's pace (200 in 4 weeks).

Each arm is priced by the runtime's own code (shared.pricing.arms.quote) with the default guardrails
(0.8x-1.5x face); arm B's popularity is the runtime's (sales pace; no resale listings here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from shared.pricing.arms import Arm, EventContext, popularity, quote
from tooling.simulator.vocabulary import CATEGORIES

WTP_MU = 0.2
WTP_SIGMA = {"concert": 0.25, "sports": 0.30, "theatre": 0.20, "festival": 0.35, "conference": 0.15}
EVENTS_PER_DAY = 200 / 28
FLOOR, CEILING = 0.8, 1.5
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SimEvent:
    index: int
    category: str
    face: float
    capacity: int
    popularity: float
    listed_day: float  # also when its sale opens
    window_days: float
    arrivals: np.ndarray  # fraction of the sale window, ascending
    wtp: np.ndarray  # willingness to pay over face value, in arrival order

    @property
    def settles_day(self) -> float:
        return self.listed_day + self.window_days


@dataclass(frozen=True)
class Outcome:
    revenue: float
    sold: int
    sellout_fraction: float | None  # of the sale window, when it sold out

    def reward(self, event: SimEvent) -> float:
        return self.revenue / (event.capacity * event.face)


@dataclass
class Run:
    """One policy on one replication's events."""

    policy: str
    arms: list[Arm] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    counterfactual: list[dict[Arm, float]] = field(default_factory=list)
    revenue: float = 0.0
    sold: int = 0
    capacity: int = 0
    sellouts: list[float] = field(default_factory=list)
    sell_through: list[float] = field(default_factory=list)  # per event


def make_events(n: int, rng: np.random.Generator) -> list[SimEvent]:
    names = list(CATEGORIES)
    weights = np.array([CATEGORIES[c][0] for c in names])
    events = []
    for i in range(n):
        category = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        lo, hi = CATEGORIES[category][1]
        capacity = max(20, round(200 * float(rng.lognormal(0.0, 0.6))))
        pop = float(rng.lognormal(0.0, 1.0))
        window = float(rng.uniform(7, 28))
        buyers = int(rng.poisson(capacity * pop**0.7))
        edge = min(0.5, 2.0 / window)  # 48 h of the window
        kind = rng.random(buyers)
        times = np.where(
            kind < 0.25,
            rng.uniform(0, edge, buyers),
            np.where(kind < 0.5, rng.uniform(1 - edge, 1, buyers), rng.random(buyers)),
        )
        order = np.argsort(times, kind="stable")
        wtp = np.exp(rng.normal(WTP_MU, WTP_SIGMA[category], buyers))
        events.append(
            SimEvent(
                i,
                category,
                float(rng.integers(lo, hi + 1)),
                capacity,
                pop,
                i / EVENTS_PER_DAY,
                window,
                times[order],
                wtp[order],
            )
        )
    return events


def fixed_price_outcome(event: SimEvent, multiplier: float) -> Outcome:
    """A price constant over the sale (arms A and D): vectorized."""
    factor = min(CEILING, max(FLOOR, multiplier))
    buyers = np.flatnonzero(event.wtp >= factor - 1e-12)
    sold = min(event.capacity, len(buyers))
    sellout = float(event.arrivals[buyers[sold - 1]]) if sold == event.capacity and sold else None
    return Outcome(round(event.face * factor, 2) * sold, sold, sellout)


def dynamic_outcome(event: SimEvent, arm: Arm) -> Outcome:
    """Arms B and C, buyer by buyer, priced by shared.pricing.arms.quote at each arrival."""
    face = Decimal(str(event.face))
    floor, ceiling = (face * Decimal(str(FLOOR))).quantize(Decimal("0.01")), face * Decimal(str(CEILING))
    start = _EPOCH + timedelta(days=event.listed_day)
    span = timedelta(days=event.window_days)
    revenue, sold = 0.0, 0
    for when, wtp in zip(event.arrivals.tolist(), event.wtp.tolist(), strict=True):
        now = start + span * when
        demand = popularity(sold, event.capacity, when, None)
        price = float(quote(arm, EventContext(face, start, start + span, now, demand), floor, ceiling).price)
        if price <= event.face * wtp + 1e-9:
            revenue += price
            sold += 1
            if sold == event.capacity:
                return Outcome(revenue, sold, when)
    return Outcome(revenue, sold, None)


def outcomes(event: SimEvent) -> dict[Arm, Outcome]:
    """Arms A, B and C, which depend on the event alone (D depends on the model of its time)."""
    return {
        "A": fixed_price_outcome(event, 1.0),
        "B": dynamic_outcome(event, "B"),
        "C": dynamic_outcome(event, "C"),
    }


def expected_lift_events(
    sd: float, mean: float, lift: float, alpha_z: float = 1.959964, power_z: float = 0.841621
) -> int:
    """Events per arm for a two-sided two-sample test at 5% to detect `lift` (relative) with 80% power."""
    delta = lift * mean
    return math.ceil(2 * (alpha_z + power_z) ** 2 * sd**2 / delta**2)

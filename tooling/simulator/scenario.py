"""The shape of a row in the scenario table (`tooling.simulator.scenarios`): everything the simulator
knows about one kind of behaviour, honest or fraudulent, in one place."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tooling.simulator.world import Action, World

# Plans a scenario's episodes over the window: (world, orders wanted) -> episodes planned.
Plan = Callable[[World, int], int]


@dataclass(frozen=True)
class LabelSource:
    """Who finds a fraudulent order out, how often it is them, and how many days later."""

    source: str  # chargeback | investigation | ban | customer_report
    weight: float
    delay_days: tuple[float, float]


@dataclass(frozen=True)
class Scenario:
    """One row of the scenario table."""

    name: str  # what its orders carry (Order.scenario, sim.truth)
    # Share of the fraudulent orders (the config's fraud_rate); None for honest shopping, which
    # makes up the orders fraud leaves.
    fraud_share: float | None
    plan: Plan
    # Fraud's labels: who finds out, how late. Honest orders' labels (friendly fraud, reviews) come
    # from the config's rates.
    label_sources: tuple[LabelSource, ...] = ()
    # Payments: the share declined (the order fails, nothing reaches the chain) and refunded later.
    declined: float = 0.0
    refunded: float = 0.0
    # With no event in mind (or the one in mind sold out), it buys among the most expensive on sale;
    # buying a resale with no ticket in mind, it takes the priciest of a sample of listings.
    prefers_expensive_events: bool = False
    prefers_expensive_listings: bool = False

    @property
    def is_fraud(self) -> bool:
        return self.fraud_share is not None


def episodes(
    episode: Action, size: Callable[[random.Random, int], int], *, starts_within: tuple[float, float] = (0, 1)
) -> Plan:
    """The plan of a fraud scenario: episodes of `size(rng, orders still wanted)` orders until the
    scenario's orders are planned, each starting at a moment within `starts_within` (shares of the
    window: schemes that need time after their first purchases start early enough to finish)."""

    def plan(world: World, n_orders: int) -> int:
        first, last = starts_within
        remaining = n_orders
        planned = 0
        while remaining > 0:
            n = size(world.rng, remaining)
            world.push(
                world.time_in_window(lo=world.point_in_window(first), hi=world.point_in_window(last)),
                episode,
                n,
            )
            remaining -= n
            planned += 1
        return planned

    return plan

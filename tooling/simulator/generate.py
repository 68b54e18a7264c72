"""One simulated marketplace: how many orders each scenario makes, the accounts and events they
need, every scenario's episodes planned from the table, the login noise, and then the actions run
in time order. `generate(config, organizer=...)` then `labels.finalize(world)`."""

from __future__ import annotations

from tooling.simulator.catalogue import build_events
from tooling.simulator.config import LEGIT, SimulationConfig
from tooling.simulator.history import add_history
from tooling.simulator.people import build_population
from tooling.simulator.scenarios import SCENARIO_TABLE
from tooling.simulator.security_noise import admin_activity, credential_stuffing
from tooling.simulator.world import World

# The world's size follows the volume asked for: honest accounts per honest order a day (a customer shops
# at the same pace in a 7-day and a 90-day world: about every seven weeks, as in the 79-day training
# world where it was 0.32 accounts per order of the whole window; issue 23: sized by the window's total,
# a 7-day demo's customers shopped eleven times as often as the training world's), the primary demand
# the events' capacities are sized for (per order), credential-stuffing attempts per honest episode.
ACCOUNTS_PER_DAILY_ORDER = 25.0
PRIMARY_DEMAND_PER_ORDER = 0.85
CREDENTIAL_STUFFING_PER_EPISODE = 0.05


def orders_per_scenario(config: SimulationConfig) -> dict[str, int]:
    """Orders each scenario is planned to make: fraud its share of `fraud_rate` (at least one
    episode each, even in a tiny world, when there is fraud at all), honest shopping the rest."""
    total_orders = max(1, round(config.orders_per_day * config.days))
    fraud_target = total_orders * config.fraud_rate
    fraud = {
        s.name: max(1 if config.fraud_rate > 0 else 0, round(fraud_target * s.fraud_share))
        for s in SCENARIO_TABLE
        if s.fraud_share is not None
    }
    return {LEGIT: total_orders - sum(fraud.values()), **fraud}


def generate(config: SimulationConfig, *, organizer: str) -> World:
    world = World(config, organizer=organizer)
    targets = orders_per_scenario(config)
    total_orders = sum(targets.values())
    legit_per_day = targets[LEGIT] / config.days
    build_population(world, max(60, round(legit_per_day * ACCOUNTS_PER_DAILY_ORDER)))
    build_events(world, daily_primary_demand=total_orders * PRIMARY_DEMAND_PER_ORDER / config.days)

    # Episodes spread over the whole window (a training window after a warm-up must see every
    # scenario), each scenario's within the part of the window its row allows.
    episodes = {scenario.name: scenario.plan(world, targets[scenario.name]) for scenario in SCENARIO_TABLE}

    admin_activity(world)
    credential_stuffing(world, round(episodes[LEGIT] * CREDENTIAL_STUFFING_PER_EPISODE))

    world.run_actions()
    world.ops.sort(key=lambda op: op.at)  # stable: ties keep the order they happened in
    # The months before the window (its own RNG: the window above is the same with or without it).
    add_history(world)
    return world

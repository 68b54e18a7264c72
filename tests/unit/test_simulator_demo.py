"""The demo cast (tooling.simulator.demo): fixed identities on any day, added beside the simulated world
without moving a single one of its draws, its example tickets unsold, its labels in the last 24 hours."""

from __future__ import annotations

from datetime import UTC, datetime

from tooling.simulator.config import SimulationConfig
from tooling.simulator.demo import (
    DEMO_BLOCKED_WALLET,
    DEMO_HONEST_WALLET,
    DEMO_NEW_WALLET,
    DEMO_TICKETS,
    add_demo_cast,
)
from tooling.simulator.generate import generate
from tooling.simulator.labels import Labels, finalize
from tooling.simulator.world import DAY, World

ORGANIZER = "0x" + "0a" * 20


def _world(end: datetime, *, demo: bool) -> tuple[World, Labels]:
    world = generate(SimulationConfig(seed=7, days=2, transactions_per_day=300, end=end), organizer=ORGANIZER)
    labels = finalize(world)
    if demo:
        add_demo_cast(world, labels)
    return world, labels


def _demo_facts(world: World, labels: Labels) -> list[tuple[object, ...]]:
    end = world.end
    orders = [
        (o.transaction_id, o.wallet, o.ticket_id, o.price, round(end - o.created_at, 3))
        for o in world.orders
        if o.transaction_id.startswith("demo_")
    ]
    label_rows = [(t, f, s, round(end - at, 3)) for t, f, s, at in labels.rows if t.startswith("demo_")]
    return [*orders, *label_rows]


def test_given_two_days_when_the_demo_cast_is_added_then_its_ids_and_distances_from_now_are_the_same() -> (
    None
):
    monday, _ = _world(datetime(2026, 11, 23, 9, tzinfo=UTC), demo=False)
    first = _world(datetime(2026, 11, 23, 9, tzinfo=UTC), demo=True)
    later = _world(datetime(2027, 3, 2, 17, tzinfo=UTC), demo=True)
    assert _demo_facts(*first) == _demo_facts(*later)
    assert len(_demo_facts(*first)) == 4 + 6 + 2 + 6  # purchases, then labels
    # And the simulated world around it is the one the seed gives without the cast
    simulated = [o for o in first[0].orders if not o.transaction_id.startswith("demo_")]
    assert [(o.transaction_id, o.wallet, o.ticket_id, o.created_at) for o in simulated] == [
        (o.transaction_id, o.wallet, o.ticket_id, o.created_at) for o in monday.orders
    ]


def test_given_the_demo_cast_then_the_example_tickets_are_unsold_and_the_wallets_are_who_the_readme_says() -> (
    None
):
    world, labels = _world(datetime(2026, 11, 23, 9, tzinfo=UTC), demo=True)
    sold = {o.ticket_id for o in world.orders}
    assert sold.isdisjoint(DEMO_TICKETS.values())
    buyers = {o.wallet for o in world.orders}
    assert {DEMO_HONEST_WALLET, DEMO_BLOCKED_WALLET} <= buyers and DEMO_NEW_WALLET not in buyers
    # The last 24 hours hold a fraud label (the scalper's ban) and a legitimate one (a review)
    recent = {(f, s) for t, f, s, at in labels.rows if t.startswith("demo_") and at > world.end - DAY}
    assert recent == {(True, "ban"), (False, "review")}
    # And the chain operations stay in time order, each demo event created before its first sale
    times = [op.at for op in world.ops]
    assert times == sorted(times)
    kinds = [(op.kind, op.args[0]) for op in world.ops]
    assert kinds.index(("create_event", 9001)) < kinds.index(("buy_primary_for", 9_000_001_001))

"""The shows on sale at steady state (tooling/simulator/catalogue.py, issue 23): a ticket's age at purchase
does not grow with the window, nothing is sold for a show already past, and the shows' sizes follow the
demand they meet."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest

from tooling.simulator import catalogue
from tooling.simulator.catalogue import event_of_ticket
from tooling.simulator.config import LEGIT, SimulationConfig
from tooling.simulator.generate import generate
from tooling.simulator.records import Event
from tooling.simulator.world import DAY, HOUR, World

END = datetime(2026, 11, 20, tzinfo=UTC)
ORGANIZER = "0x" + "0b" * 20


def _world(days: float, per_day: int = 300, seed: int = 21) -> World:
    return generate(
        SimulationConfig(seed=seed, days=days, transactions_per_day=per_day, end=END), organizer=ORGANIZER
    )


def _ticket_ages_h(world: World, last_days: float) -> list[float]:
    """Hours from each honest purchase's ticket mint to the purchase, over the window's last days."""
    return [
        (o.created_at - event_of_ticket(world, o.ticket_id).created_at) / HOUR
        for o in world.orders
        if o.scenario == LEGIT and o.created_at >= world.end - last_days * DAY
    ]


@pytest.fixture(scope="module")
def week() -> World:
    return _world(7)


@pytest.fixture(scope="module")
def quarter() -> World:
    return _world(90)


def test_a_tickets_age_at_purchase_does_not_grow_with_the_window(week: World, quarter: World) -> None:
    # Given a 7-day and a 90-day world of the same marketplace
    # When the ticket ages of the week's honest purchases and of the quarter's last month are compared
    short, long = statistics.median(_ticket_ages_h(week, 7)), statistics.median(_ticket_ages_h(quarter, 30))
    # Then the medians agree within a third (a few popular shows sway a small world's median; with every
    # show created at the window's start they were 634 h and 2,337 h at 900 a day)
    assert abs(long - short) / short < 0.35, (short, long)
    # And no ticket is older than the longest announcement plus sale
    longest = (catalogue.ANNOUNCED_DAYS[1] + catalogue.SALE_DAYS[1]) * 24
    assert max(_ticket_ages_h(quarter, 90)) <= longest


def test_nothing_is_sold_for_a_show_already_past(quarter: World) -> None:
    # Given a 90-day world, most of whose shows take place inside it
    assert sum(e.show_at < quarter.end for e in quarter.events) > len(quarter.events) / 2
    # When every order is checked against its show, Then none was bought once the show had begun
    late = [o for o in quarter.orders if o.created_at >= event_of_ticket(quarter, o.ticket_id).show_at]
    assert late == []


def test_a_shows_sale_lasts_its_sale_days(quarter: World) -> None:
    # Given the shows of a 90-day world, Then each is on sale between 10 and 40 days before it takes place
    lengths = [(e.show_at - e.sale_starts_at) / DAY for e in quarter.events]
    assert min(lengths) >= catalogue.SALE_DAYS[0] - 1e-6
    assert max(lengths) <= catalogue.SALE_DAYS[1] + 1e-6


def test_shows_per_day_follow_the_primary_demand(week: World) -> None:
    # Given a week at 300 purchases a day, When its shows opening in the window are counted
    opened = [e for e in week.events if e.sale_starts_at >= week.start]
    # Then about 0.85 x 300 / 150 = 1.7 a day open (Poisson over 7 days: 12 expected)
    assert 5 <= len(opened) <= 22, len(opened)


def test_a_show_on_sale_before_the_window_lists_only_what_it_has_left(quarter: World) -> None:
    # Given the shows whose sale opened long before the window and those opened inside it
    started_before = [e for e in quarter.events if e.sale_starts_at < quarter.start - 15 * DAY]
    inside = [e for e in quarter.events if e.sale_starts_at >= quarter.start]

    # Then the ones half sold before the window list fewer tickets, relative to popularity and length
    def per_unit(events: list[Event]) -> float:
        return statistics.mean(e.capacity / (e.popularity * (e.show_at - e.sale_starts_at)) for e in events)

    assert per_unit(started_before) < per_unit(inside)

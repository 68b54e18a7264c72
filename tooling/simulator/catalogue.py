"""Events: the catalogue created before the window (each with its tickets minted to the organizer),
sales opening, and picking an event on sale the way each kind of buyer does."""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from decimal import Decimal

from shared.chain.units import usd_to_wei
from tooling.simulator.records import ChainOp, Event
from tooling.simulator.vocabulary import ARTISTS, CATEGORIES, CITIES, EVENT_COUNTRIES, VENUE_KINDS
from tooling.simulator.world import DAY, World

# Shows at steady state (issue 23): announced at one steady rate, each on sale for SALE_DAYS until it takes
# place, so that the shows on sale on any day of any window look alike. Before, every show of the window was
# created at its start (80% of them on sale up to 30 days before it) and sold until the window ended: a
# ticket's age at purchase (resale_time, the model's second feature) grew with the window, a median of 634 h
# in a 7-day world and 2,337 h in a 90-day one, and the model, trained on days 7-49 of one world, flagged
# twice as many honest buyers at 90 days.
SALE_DAYS = (10.0, 40.0)
ANNOUNCED_DAYS = (1.0, 10.0)  # listed (and minted) this long before its sale opens
TICKETS_PER_SHOW = 150.0  # primary sales of a show of average popularity and sale length
MIN_SHOWS = 8
_POPULARITY_SIGMA, _VENUE_SIGMA = 1.0, 0.6


def build_events(world: World, daily_primary_demand: float) -> None:
    """The shows on sale at some moment of the window, each listed and minted before its sale opens.

    A show that went on sale before the window lists only the tickets it has left then (what it sold
    earlier went to buyers the world does not hold), so the tickets on sale at the window's start are what
    any day would have, not full houses. Sizes follow demand: a show sells about TICKETS_PER_SHOW x its
    sale's share of the mean length x its popularity's share of the mean, and its venue holds 1.5 times
    that, give or take (a hot show still sells out)."""
    rng = world.rng
    shows_per_day = daily_primary_demand / TICKETS_PER_SHOW
    first_sale = world.start - SALE_DAYS[1] * DAY
    candidates = round(shows_per_day * (world.end - first_sale) / DAY)
    mean_sale = sum(SALE_DAYS) / 2
    mean_popularity = math.exp(_POPULARITY_SIGMA**2 / 2)
    mean_venue = math.exp(_VENUE_SIGMA**2 / 2)
    shows: list[tuple[float, float, float, int]] = []  # sale opens, show time, popularity, capacity
    drawn = 0
    while drawn < candidates or len(shows) < MIN_SHOWS:
        drawn += 1
        sale_days = rng.uniform(*SALE_DAYS)
        sale_starts = first_sale + rng.random() * (world.end - first_sale)
        show_at = sale_starts + sale_days * DAY
        popularity = rng.lognormvariate(0, _POPULARITY_SIGMA)
        expected = TICKETS_PER_SHOW * sale_days / mean_sale * popularity / mean_popularity
        venue = max(20, round(1.5 * expected * rng.lognormvariate(0, _VENUE_SIGMA) / mean_venue))
        sold_before = round(expected * max(0.0, world.start - sale_starts) / (sale_days * DAY))
        if show_at <= world.start or venue - sold_before < 5:
            continue  # over, or sold out, before the window
        shows.append((sale_starts, show_at, popularity, venue - sold_before))
    shows.sort(key=lambda show: show[0])  # event ids and ticket ids in the order shows were listed
    for sale_starts, show_at, popularity, capacity in shows:
        _add_show(world, sale_starts, show_at, popularity, capacity)
    for event in sorted(world.events, key=lambda e: (e.created_at, e.event_id)):
        world.ops.append(
            ChainOp(
                event.created_at,
                "create_event",
                (event.event_id, event.capacity, usd_to_wei(event.face_value)),
            )
        )
        world.ops.append(
            ChainOp(
                event.created_at + 60,
                "mint_batch",
                (event.event_id, event.first_ticket_id, event.capacity),
                event_id=event.event_id,
            )
        )
    world.events_by_face = sorted(world.events, key=lambda e: (-e.face_value, e.event_id))
    for event in world.events:
        world.push(max(event.sale_starts_at, world.start), open_sale, event)
        if event.show_at < world.end:
            world.push(event.show_at, close_sale, event)


def _add_show(world: World, sale_starts: float, show_at: float, popularity: float, capacity: int) -> None:
    rng = world.rng
    category = rng.choices(list(CATEGORIES), weights=[weight for weight, _ in CATEGORIES.values()])[0]
    lo, hi = CATEGORIES[category][1]
    face = Decimal(rng.randrange(lo, hi + 1)) - (Decimal("0.01") if rng.random() < 0.4 else 0)
    event = Event(
        len(world.events) + 1,
        capacity,
        face,
        popularity,
        world.next_ticket_id,
        round(sale_starts, 3),
        round(sale_starts - rng.uniform(*ANNOUNCED_DAYS) * DAY, 3),
        show_at=round(show_at, 3),
    )
    world.next_ticket_id += capacity
    world.events.append(event)
    country = rng.choice(EVENT_COUNTRIES)
    world.event_meta.append(
        (
            f"{rng.choice(ARTISTS)} {category.title()} {2026 + event.event_id % 2}",
            f"{CITIES[country]} {VENUE_KINDS[category]}",
            CITIES[country],
            country,
            category,
        )
    )


def open_sale(world: World, at: float, event: Event) -> None:
    event.open = True
    world.open_events.append(event)
    world.open_cumulative = None


def close_sale(world: World, at: float, event: Event) -> None:
    """The show takes place: its primary sale closes (its resale listings lapse as buyers meet them:
    tooling.simulator.market)."""
    event.open = False
    world.open_cumulative = None


def _open_table(world: World) -> list[float]:
    if world.open_cumulative is None:
        world.open_events = [e for e in world.open_events if e.open and e.sold < e.capacity]
        world.open_cumulative = list(itertools.accumulate(e.popularity for e in world.open_events))
    return world.open_cumulative


def pick_event(world: World, *, hot: bool = False, expensive: bool = False) -> Event | None:
    """An event on sale with tickets left: by popularity; or among the most popular (scalpers);
    or among the most expensive (stolen cards and taken-over accounts)."""
    cum = _open_table(world)
    if not world.open_events:
        return None
    if expensive:
        top = world.events_by_face[: max(3, len(world.events_by_face) // 8)]
        candidates = [e for e in top if e.open and e.sold < e.capacity]
        if candidates:
            return world.rng.choice(candidates)
    if hot:
        ranked = sorted(world.open_events, key=lambda e: (-e.popularity, e.event_id))
        candidates = [e for e in ranked if e.sold < e.capacity][:3]
        if candidates:
            return world.rng.choice(candidates)
    for _ in range(8):
        event = world.open_events[min(len(cum) - 1, bisect_right(cum, world.rng.random() * cum[-1]))]
        if event.sold < event.capacity:
            return event
    world.open_cumulative = None  # mostly sold out: rebuild the table without them
    _open_table(world)
    return world.rng.choice(world.open_events) if world.open_events else None


def event_of_ticket(world: World, token_id: int) -> Event:
    """The event a ticket belongs to (events hold consecutive ticket ids, in event order)."""
    lo, hi = 0, len(world.events) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if world.events[mid].first_ticket_id <= token_id:
            lo = mid
        else:
            hi = mid - 1
    return world.events[lo]

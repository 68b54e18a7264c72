"""Events: the catalogue created before the window (each with its tickets minted to the organizer),
sales opening, and picking an event on sale the way each kind of buyer does."""

from __future__ import annotations

import itertools
from bisect import bisect_right
from decimal import Decimal

from shared.chain.units import usd_to_wei
from tooling.simulator.records import ChainOp, Event
from tooling.simulator.vocabulary import ARTISTS, CATEGORIES, CITIES, EVENT_COUNTRIES, VENUE_KINDS
from tooling.simulator.world import DAY, World


def build_events(world: World, primary_demand: int) -> None:
    rng = world.rng
    n_events = max(8, min(3000, primary_demand // 150))
    popularity = [rng.lognormvariate(0, 1.0) for _ in range(n_events)]
    share = [rng.lognormvariate(0, 0.6) for _ in range(n_events)]
    total_share = sum(share)
    categories = list(CATEGORIES)
    for i in range(n_events):
        category = rng.choices(categories, weights=[CATEGORIES[c][0] for c in categories])[0]
        lo, hi = CATEGORIES[category][1]
        face = Decimal(rng.randrange(lo, hi + 1)) - (Decimal("0.01") if rng.random() < 0.4 else 0)
        # Capacity follows demand (a popular show gets a bigger venue) but hot ones still sell out.
        capacity = max(20, round(1.5 * primary_demand * share[i] / total_share))
        sale_starts = world.start - rng.random() * 30 * DAY if rng.random() < 0.8 else world.time_in_window()
        created = sale_starts - (1 + rng.random() * 9) * DAY
        event = Event(
            i + 1,
            capacity,
            face,
            popularity[i],
            world.next_ticket_id,
            round(sale_starts, 3),
            round(created, 3),
        )
        world.next_ticket_id += capacity
        world.events.append(event)
        country = rng.choice(EVENT_COUNTRIES)
        world.event_meta.append(
            (
                f"{rng.choice(ARTISTS)} {category.title()} {2026 + i % 2}",
                f"{CITIES[country]} {VENUE_KINDS[category]}",
                CITIES[country],
                country,
                category,
            )
        )
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


def open_sale(world: World, at: float, event: Event) -> None:
    event.open = True
    world.open_events.append(event)
    world.open_cumulative = None


def _open_table(world: World) -> list[float]:
    if world.open_cumulative is None:
        world.open_events = [e for e in world.open_events if e.sold < e.capacity]
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

"""The demo cast: fixed identities that `make run` seeds next to the simulated marketplace, so that the
README's examples give the same answers on any day (issue 13).

- an honest demo buyer with four weeks of history (two demo events, reviewed and cleared);
- a demo scalper: an account hours old that bought six tickets in five minutes six hours ago, was
  banned (fraud labels) and is blocklisted by the local runner;
- a wallet with no history, for the rate-limit example;
- two demo events whose unsold tickets the examples buy.

Added after the simulated world is generated and labelled (`add_demo_cast`): it draws nothing from the
world's RNG, so the simulated marketplace is exactly the one the same seed gives without it, and its
ids lie far above the simulator's (users and tickets from 9,000,000,001, events from 9001). Every time is
relative to the window's end, so a run on any day has the same cast at the same distances from now.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.chain.units import usd_to_wei
from tooling.simulator.config import LEGIT
from tooling.simulator.labels import Labels
from tooling.simulator.market import fee_for
from tooling.simulator.records import ChainOp, Event, Order, User
from tooling.simulator.world import DAY, HOUR, MINUTE, World

DEMO_HONEST_WALLET = "0x600d000000000000000000000000000000000001"
DEMO_BLOCKED_WALLET = "0xbad0000000000000000000000000000000000001"
DEMO_NEW_WALLET = "0x4290000000000000000000000000000000000001"  # no history: the rate-limit example
DEMO_BLOCKLIST_REASON = "demo: the demo scalper, banned (seeded by the local runner)"


@dataclass(frozen=True)
class DemoEvent:
    event_id: int
    name: str
    category: str
    face_value: Decimal
    first_ticket_id: int
    capacity: int = 100
    venue: str = "London Demo Arena"
    city: str = "London"
    country: str = "GB"


DEMO_EVENTS = (
    DemoEvent(9001, "TicketGuard Demo Night", "concert", Decimal("120.00"), 9_000_001_001),
    DemoEvent(9002, "TicketGuard Demo Matinee", "theatre", Decimal("65.00"), 9_000_002_001),
)
# Tickets of event 9001 that nobody holds after seeding: what the README's examples buy (at 120.00).
DEMO_TICKETS = {"honest": 9_000_001_050, "blocked": 9_000_001_051, "new_wallet": 9_000_001_052}
DEMO_PRICE = DEMO_EVENTS[0].face_value


@dataclass(frozen=True)
class _Persona:
    handle: str  # in its transaction ids: demo_<handle>_01, ...
    user_id: int
    email: str
    country: str
    kind: str  # sim.user_kinds
    scenario: str  # sim.truth
    wallet: str
    instrument: str
    ip: str
    created_days_ago: float
    # (event index in DEMO_EVENTS, ticket offset in the event, seconds before the window's end)
    purchases: tuple[tuple[int, int, float], ...]
    # (index of the purchase, is_fraud, label source, seconds before the window's end when it came)
    labels: tuple[tuple[int, bool, str, float], ...]


HONEST = _Persona(
    handle="buyer",
    user_id=9_000_000_001,
    email="demo.buyer@example.com",
    country="GB",
    kind="regular",
    scenario=LEGIT,
    wallet=DEMO_HONEST_WALLET,
    instrument="card_demo0000000001",
    ip="82.8.14.27",  # a GB address (the simulator's geolocation table)
    created_days_ago=400,
    purchases=((0, 0, 26 * DAY), (1, 0, 19 * DAY), (0, 1, 5 * DAY), (1, 1, 5 * HOUR)),
    labels=((2, False, "review", 4 * DAY), (3, False, "review", 2 * HOUR)),
)
SCALPER = _Persona(
    handle="scalper",
    user_id=9_000_000_002,
    email="demo.scalper@example.net",
    country="NL",
    kind="bot",
    scenario="scalper_bot",
    wallet=DEMO_BLOCKED_WALLET,
    instrument="card_demo0000000002",
    ip="20.103.7.7",  # an NL hosting address
    created_days_ago=7 * HOUR / DAY,
    purchases=tuple((0, 10 + i, 6 * HOUR - i * MINUTE) for i in range(6)),
    labels=tuple((i, True, "ban", 3 * HOUR) for i in range(6)),
)
PERSONAS = (HONEST, SCALPER)


def add_demo_cast(world: World, labels: Labels) -> None:
    """Adds the demo events, accounts, purchases (with their contract calls) and labels to a generated,
    labelled world. Refuses a world whose own ids reach the demo's."""
    end = world.end
    if world.next_ticket_id > DEMO_EVENTS[0].first_ticket_id or world.next_user_id > HONEST.user_id:
        raise ValueError("the simulated world is too large for the demo cast's fixed ids")
    if len(world.events) >= DEMO_EVENTS[0].event_id:
        raise ValueError("the simulated world has too many events for the demo cast's fixed ids")
    events: list[Event] = []
    for demo in DEMO_EVENTS:
        created = end - 35 * DAY
        event = Event(
            demo.event_id,
            demo.capacity,
            demo.face_value,
            1.0,
            demo.first_ticket_id,
            created + DAY,
            created,
            show_at=end + (7 + demo.event_id % 80) * DAY,
        )
        world.events.append(event)  # after the simulated events: ticket ids stay in event order
        world.event_meta.append((demo.name, demo.venue, demo.city, demo.country, demo.category))
        events.append(event)
        world.ops.append(
            ChainOp(created, "create_event", (demo.event_id, demo.capacity, usd_to_wei(demo.face_value)))
        )
        world.ops.append(
            ChainOp(
                created + 60,
                "mint_batch",
                (demo.event_id, demo.first_ticket_id, demo.capacity),
                event_id=demo.event_id,
            )
        )
    for persona in PERSONAS:
        user = User(
            persona.user_id,
            persona.email,
            persona.country,
            round(end - persona.created_days_ago * DAY, 3),
            persona.kind,
            wallets=[persona.wallet],
            instruments=[("card", persona.instrument)],
            home_ips=[persona.ip],
            agent="Mozilla/5.0 (demo)",
        )
        world.users.append(user)
        orders = [_purchase(world, user, persona, n, events[e], offset, end - before)
                  for n, (e, offset, before) in enumerate(persona.purchases, start=1)]  # fmt: skip
        for index, is_fraud, source, before in persona.labels:
            labels.rows.append((orders[index].transaction_id, is_fraud, source, round(end - before, 3)))
    world.ops.sort(key=lambda op: op.at)  # stable: the simulated world's ties keep their order


def _purchase(
    world: World, user: User, persona: _Persona, n: int, event: Event, offset: int, at: float
) -> Order:
    ticket_id = event.first_ticket_id + offset
    if ticket_id in DEMO_TICKETS.values():
        raise ValueError(f"demo ticket {ticket_id} is kept for the examples")
    at = round(at, 3)
    order = Order(
        order_id=world.next_order_id,
        transaction_id=f"demo_{persona.handle}_{n:02d}",
        ticket_id=ticket_id,
        event_id=event.event_id,
        user=user,
        wallet=persona.wallet,
        seller_wallet=None,
        price=event.face_value,
        fee=fee_for(event.face_value, "primary"),
        payment_type="card",
        instrument=persona.instrument,
        ip=persona.ip,
        status="completed",
        created_at=at,
        scenario=persona.scenario,
        updated_at=at,
    )
    world.next_order_id += 1
    world.orders.append(order)
    event.sold += 1
    world.owner[ticket_id] = persona.wallet
    world.held_since[ticket_id] = at
    world.ops.append(
        ChainOp(at, "buy_primary_for", (ticket_id, persona.wallet, usd_to_wei(event.face_value)), order=order)
    )
    return order

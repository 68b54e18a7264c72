"""The market: orders, primary sales, resales and listings, kept consistent with ticket ownership,
each sale and listing a contract call in time order."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from shared.chain.units import PRIMARY_FEE_BPS, RESALE_FEE_BPS, usd_to_wei, wei_to_usd
from tooling.simulator.catalogue import event_of_ticket, pick_event
from tooling.simulator.records import ChainOp, Event, Listing, Order, User
from tooling.simulator.scenario import Scenario
from tooling.simulator.world import World

# Called right after a primary sale succeeds: (world, at, ticket_id, order).
AfterPurchase = Callable[[World, float, int, Order], None]


def fee_for(price: Decimal, kind: str) -> Decimal:
    """The platform fee exactly as the contract computes it (wei, rounded down), in USD."""
    bps = PRIMARY_FEE_BPS if kind == "primary" else RESALE_FEE_BPS
    return wei_to_usd(usd_to_wei(price) * bps // 10_000)


def buy_primary(world: World, at: float, user: User, wallet: str, event: Event | None, instrument: tuple[str, str],
                ip: str, scenario: Scenario, then: AfterPurchase | None = None) -> Order | None:  # fmt: skip
    """A ticket of `event` from the organizer; with no event in mind, or one sold out or not on sale
    yet, of another event on sale (chosen as the scenario prefers). None when nothing is on sale."""
    if event is None or event.sold >= event.capacity or not event.sale_starts_at <= at < event.show_at:
        event = pick_event(world, expensive=scenario.prefers_expensive_events)
    if event is None:
        return None
    ticket_id = event.first_ticket_id + event.sold
    status = _payment_status(world, scenario)
    order = _order(
        world, at, user, wallet, ticket_id, event, None, event.face_value, instrument, ip, scenario, status
    )
    if status == "failed":
        return order  # the card was declined: nothing happens on chain
    event.sold += 1
    world.owner[ticket_id] = wallet
    world.held_since[ticket_id] = at
    world.ops.append(
        ChainOp(at, "buy_primary_for", (ticket_id, wallet, usd_to_wei(event.face_value)), order=order)
    )
    if then is not None:
        then(world, at, ticket_id, order)
    return order


def buy_resale(world: World, at: float, user: User, wallet: str, token_id: int | None, instrument: tuple[str, str],
               ip: str, scenario: Scenario) -> Order | None:  # fmt: skip
    """A listed ticket (a public listing when `token_id` is None); None when there is none to buy."""
    if token_id is None:
        token_id = _pick_listing(world, wallet, at, expensive=scenario.prefers_expensive_listings)
        if token_id is None:
            return None
    listing = world.listings.get(token_id)
    if listing is None or world.owner.get(token_id) != listing.seller or listing.seller == wallet:
        return None
    event = event_of_ticket(world, token_id)
    status = _payment_status(world, scenario)
    order = _order(
        world,
        at,
        user,
        wallet,
        token_id,
        event,
        listing.seller,
        listing.price,
        instrument,
        ip,
        scenario,
        status,
    )
    if status == "failed":
        return order
    _unlist(world, token_id)
    world.owner[token_id] = wallet
    world.held_since[token_id] = at
    world.ops.append(
        ChainOp(at, "buy_resale_for", (token_id, wallet, usd_to_wei(listing.price)), order=order)
    )
    return order


def list_ticket(
    world: World, at: float, token_id: int, seller: str, price: Decimal, *, public: bool = True
) -> bool:
    if world.owner.get(token_id) != seller or token_id in world.listings:
        return False
    price = max(Decimal("1.00"), price.quantize(Decimal("0.01")))
    world.listings[token_id] = Listing(token_id, seller, price, public)
    if public:
        world.public_position[token_id] = len(world.public_listings)
        world.public_listings.append(token_id)
    world.ops.append(ChainOp(at, "list_for", (token_id, usd_to_wei(price))))
    world.listing_ops += 1
    return True


def delist_ticket(world: World, at: float, token_id: int, seller: str) -> None:
    listing = world.listings.get(token_id)
    if listing is None or listing.seller != seller or world.owner.get(token_id) != seller:
        return
    _unlist(world, token_id)
    world.ops.append(ChainOp(at, "delist_for", (token_id,)))
    world.listing_ops += 1


def _order(world: World, at: float, user: User, wallet: str, ticket_id: int, event: Event, seller: str | None,
           price: Decimal, instrument: tuple[str, str], ip: str, scenario: Scenario, status: str) -> Order:  # fmt: skip
    kind = "primary" if seller is None else "resale"
    order = Order(
        order_id=world.next_order_id,
        transaction_id=f"txn_{world.config.seed % 100000:05d}_{world.next_order_id:09d}",
        ticket_id=ticket_id,
        event_id=event.event_id,
        user=user,
        wallet=wallet,
        seller_wallet=seller,
        price=price,
        fee=fee_for(price, kind),
        payment_type=instrument[0],
        instrument=instrument[1],
        ip=ip,
        status=status,
        created_at=round(at, 3),
        scenario=scenario.name,
        updated_at=round(at, 3),
    )
    world.next_order_id += 1
    world.orders.append(order)
    return order


def _payment_status(world: World, scenario: Scenario) -> str:
    # One draw per order, whether the scenario can decline or not: the draws after it keep their place.
    r = world.rng.random()
    if r < scenario.declined:
        return "failed"
    if r < scenario.declined + scenario.refunded:
        return "refunded"  # asked for later: finalize dates it, or keeps it when that is after the end
    return "completed"


def _pick_listing(world: World, buyer: str, at: float, *, expensive: bool = False) -> int | None:
    """A public listing a buyer meets: any of three, or the dearest of twelve. A listing for a show
    already past lapses when met (unlisted, and another drawn in its place)."""
    public = world.public_listings
    wanted = min(12, len(public)) if expensive else 3
    candidates: list[int] = []
    for _ in range(2 * wanted):
        if len(candidates) == wanted or not public:
            break
        token_id = public[world.rng.randrange(len(public))]
        if event_of_ticket(world, token_id).show_at <= at:
            _unlist(world, token_id)
            continue
        candidates.append(token_id)
    if expensive:
        candidates.sort(key=lambda t: (-world.listings[t].price, t))
    for token_id in candidates:
        if world.listings[token_id].seller != buyer:
            return token_id
    return None


def _unlist(world: World, token_id: int) -> None:
    listing = world.listings.pop(token_id)
    if listing.public:
        pos = world.public_position.pop(token_id)
        last = world.public_listings.pop()
        if last != token_id:
            world.public_listings[pos] = last
            world.public_position[last] = pos

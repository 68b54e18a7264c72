"""Wash trading: a clique of 3-5 wallets passing tickets around at rising prices (hours apart), paying
in crypto, from neighbouring addresses, through listings nobody else sees: it inflates prices and
the tickets' trading history."""

from __future__ import annotations

import random
from decimal import Decimal

from tooling.simulator.catalogue import pick_event
from tooling.simulator.geo import HOME_COUNTRY_WEIGHTS, random_ip
from tooling.simulator.market import buy_primary, buy_resale, list_ticket
from tooling.simulator.people import new_user
from tooling.simulator.records import User
from tooling.simulator.scenario import LabelSource, Scenario, episodes
from tooling.simulator.traffic import session
from tooling.simulator.world import DAY, HOUR, MINUTE, World


def ring(world: World, at: float, n_orders: int) -> None:
    rng = world.rng
    country = rng.choice(list(HOME_COUNTRY_WEIGHTS))
    network = rng.randrange(6)
    members = [
        new_user(world, "ring", at - rng.uniform(3, 60) * DAY, country=country)
        for _ in range(rng.randint(3, 5))
    ]
    for member in members:
        member.home_ips = [random_ip(rng, country, network)]
    n_tickets = 1 if n_orders < 8 else 2
    budget = [n_orders // n_tickets + (i < n_orders % n_tickets) for i in range(n_tickets)]
    for i, hops in enumerate(budget):
        buyer = members[i % len(members)]
        t = at + rng.uniform(0, 2) * HOUR
        session(world, buyer, buyer.home_ips[0], t - 60, t + 300)
        world.push(t, _first_buy, members, i % len(members), hops - 1)


def _pace(world: World) -> float:
    """How much faster than in a long window the hops follow each other: in a short window they
    still fit in it."""
    return min(1.0, max(0.05, world.config.days / 10))


def _first_buy(world: World, at: float, members: list[User], holder_idx: int, hops: int) -> None:
    holder = members[holder_idx]
    event = pick_event(world)
    order = buy_primary(
        world, at, holder, holder.wallets[0], event, holder.instruments[0], holder.home_ips[0], WASH_TRADING
    )
    if order is not None and order.status != "failed" and hops > 0:
        world.push(
            at + world.rng.uniform(1, 10) * HOUR,
            _hop,
            members,
            holder_idx,
            order.ticket_id,
            order.price,
            hops,
        )


def _hop(
    world: World, at: float, members: list[User], holder_idx: int, token_id: int, price: Decimal, hops: int
) -> None:
    rng = world.rng
    holder = members[holder_idx]
    new_price = price * Decimal(str(round(rng.uniform(1.08, 1.3), 3)))
    if not list_ticket(world, at, token_id, holder.wallets[0], new_price, public=False):
        return
    nxt = (holder_idx + rng.randint(1, len(members) - 1)) % len(members)
    buyer = members[nxt]
    t = at + rng.uniform(2, 60) * MINUTE * _pace(world)
    session(world, buyer, buyer.home_ips[0], t - 60, t + 120)
    world.push(t, _buy, members, nxt, token_id, hops)


def _buy(world: World, at: float, members: list[User], buyer_idx: int, token_id: int, hops: int) -> None:
    buyer = members[buyer_idx]
    order = buy_resale(
        world, at, buyer, buyer.wallets[0], token_id, buyer.instruments[0], buyer.home_ips[0], WASH_TRADING
    )
    if order is not None and hops > 1:
        world.push(
            at + world.rng.uniform(1, 12) * HOUR, _hop, members, buyer_idx, token_id, order.price, hops - 1
        )


def _ring_size(rng: random.Random, remaining: int) -> int:
    # At least a purchase and two hops, even when fewer orders are wanted: one resale is no wash trade.
    return max(3, min(remaining, rng.randint(4, 12)))


WASH_TRADING = Scenario(
    name="wash_trading",
    fraud_share=0.20,
    # The hops take hours to days: rings start in the first 85% of the window.
    plan=episodes(ring, _ring_size, starts_within=(0, 0.85)),
    label_sources=(
        LabelSource("investigation", 0.7, (2, 14)),
        LabelSource("ban", 0.3, (0.5, 5)),
    ),
)

"""Scalper bots: new accounts and wallets, minutes old, buying a hot event's tickets in a burst from
hosting IPs, sharing a few cards; each ticket is listed again within hours at 1.5-3x face value."""

from __future__ import annotations

import random
from decimal import Decimal

from tooling.simulator.catalogue import pick_event
from tooling.simulator.geo import HOSTING_COUNTRIES, random_ip
from tooling.simulator.market import buy_primary, list_ticket
from tooling.simulator.people import new_user
from tooling.simulator.records import Event, Order, User
from tooling.simulator.scenario import LabelSource, Scenario, episodes
from tooling.simulator.traffic import session
from tooling.simulator.world import HOUR, MINUTE, World


def burst(world: World, at: float, n_orders: int) -> None:
    rng = world.rng
    event = pick_event(world, hot=True)
    country = rng.choice(HOSTING_COUNTRIES)
    network = rng.randrange(6)
    shared_cards = [("card", "card_" + world.hex(8)) for _ in range(rng.randint(1, 3))]
    remaining = n_orders
    while remaining > 0:
        bot = new_user(
            world, "bot", at - rng.uniform(5 * MINUTE, 36 * HOUR), country=rng.choice(HOSTING_COUNTRIES)
        )
        bot.instruments = [rng.choice(shared_cards)] if rng.random() < 0.6 else bot.instruments
        ip = random_ip(rng, country, network)
        k = min(remaining, rng.randint(3, 8))
        remaining -= k
        start = at + rng.uniform(0, 120)
        times = [start + i * rng.uniform(2, 15) for i in range(k)]
        session(world, bot, ip, start - 20, times[-1] + 30)
        for t in times:
            world.push(t, _buy, bot, event, ip)


def _buy(world: World, at: float, bot: User, event: Event | None, ip: str) -> None:
    buy_primary(world, at, bot, bot.wallets[0], event, bot.instruments[0], ip, SCALPER_BOT, then=_relist)


def _relist(world: World, at: float, token_id: int, order: Order) -> None:
    markup = Decimal(str(round(world.rng.uniform(1.5, 3.0), 3)))
    world.push(at + world.rng.uniform(0.3, 12) * HOUR, _list, token_id, order.wallet, order.price * markup)


def _list(world: World, at: float, token_id: int, seller: str, price: Decimal) -> None:
    list_ticket(world, at, token_id, seller, price)


def _burst_size(rng: random.Random, remaining: int) -> int:
    return min(remaining, rng.randint(12, 40))


SCALPER_BOT = Scenario(
    name="scalper_bot",
    fraud_share=0.35,
    # Relisting takes hours after the burst: bursts start in the first 85% of the window.
    plan=episodes(burst, _burst_size, starts_within=(0, 0.85)),
    label_sources=(
        LabelSource("investigation", 0.6, (1, 10)),
        LabelSource("ban", 0.4, (0.2, 3)),
    ),
)

"""Stolen cards: one fresh account cycling through stolen cards, each attempt from another country
(proxies): impossible travel, many instruments, expensive tickets, declines."""

from __future__ import annotations

import random

from tooling.simulator.geo import RISKY_COUNTRIES, far_country, random_ip
from tooling.simulator.market import buy_primary, buy_resale
from tooling.simulator.people import new_user
from tooling.simulator.records import User
from tooling.simulator.scenario import LabelSource, Scenario, episodes
from tooling.simulator.traffic import session
from tooling.simulator.world import HOUR, MINUTE, World


def card_run(world: World, at: float, n_orders: int) -> None:
    rng = world.rng
    user = new_user(world, "fraudster", at - rng.uniform(0.2, 72) * HOUR, country=rng.choice(RISKY_COUNTRIES))
    wallet = user.wallets[0]
    t = at
    country = user.country
    for _ in range(n_orders):
        card = ("card", "card_" + world.hex(8))
        user.instruments.append(card)
        country = far_country(rng, country, min_km=2500)
        ip = random_ip(rng, country)
        session(world, user, ip, t - 30, t + 90)
        resale = bool(world.public_listings) and rng.random() < 0.3
        world.push(t, _attempt, user, wallet, card, ip, resale)
        t += rng.uniform(4, 40) * MINUTE


def _attempt(
    world: World, at: float, user: User, wallet: str, card: tuple[str, str], ip: str, resale: bool
) -> None:
    if not resale or buy_resale(world, at, user, wallet, None, card, ip, STOLEN_CARD) is None:
        buy_primary(world, at, user, wallet, None, card, ip, STOLEN_CARD)


def _run_size(rng: random.Random, remaining: int) -> int:
    return min(remaining, rng.randint(3, 8))


STOLEN_CARD = Scenario(
    name="stolen_card",
    fraud_share=0.25,
    plan=episodes(card_run, _run_size),
    label_sources=(
        LabelSource("chargeback", 0.8, (3, 25)),
        LabelSource("customer_report", 0.2, (0.5, 6)),
    ),
    declined=0.2,
    prefers_expensive_events=True,
)

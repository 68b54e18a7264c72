"""Account takeover: a known customer's account, suddenly used from far away after a run of failed
passwords, buying the most expensive things on offer. Most takeovers come from credentials or
session cookies stolen while the customer was using the account (phishing, infostealers), and the
attacker uses them within hours: then the far-away request closely follows the customer's own last
purchase from home."""

from __future__ import annotations

import random
from bisect import bisect_right

from tooling.simulator.config import LEGIT
from tooling.simulator.geo import RISKY_COUNTRIES, far_country, random_ip
from tooling.simulator.market import buy_primary, buy_resale
from tooling.simulator.records import User
from tooling.simulator.scenario import LabelSource, Scenario, episodes
from tooling.simulator.traffic import login, session
from tooling.simulator.vocabulary import BOT_USER_AGENTS
from tooling.simulator.world import DAY, HOUR, MINUTE, World

# Accounts worth taking over, and old enough that the customer's habits are known.
VICTIM_KINDS = ("regular", "power", "reseller")


def takeover(world: World, at: float, n_orders: int) -> None:
    rng = world.rng
    victim = _recently_active_victim(world, at) if rng.random() < 0.65 else None
    if victim is None:
        victims = [u for u in world.regulars if u.created_at < world.start - 30 * DAY]
        victim = rng.choice(victims or world.regulars)
    country = (
        far_country(rng, victim.country, min_km=4000, pool=RISKY_COUNTRIES)
        if rng.random() < 0.7
        else far_country(rng, victim.country)
    )
    ip = random_ip(rng, country)
    for i in range(rng.randint(2, 8)):
        login(
            world,
            victim,
            victim.email,
            ip,
            at - 600 + i * rng.uniform(5, 40),
            success=False,
            reason="bad_password",
        )
    instrument = victim.instruments[0] if rng.random() < 0.7 else ("card", "card_" + world.hex(8))
    if instrument not in victim.instruments:
        victim.instruments.append(instrument)
    wallet = victim.wallets[0]
    times = [at + rng.uniform(60, 300)]
    for _ in range(n_orders - 1):
        times.append(times[-1] + rng.uniform(20, 200))
    session(world, victim, ip, at, times[-1] + 120, agent=rng.choice(BOT_USER_AGENTS[:2]))
    for t in times:
        world.push(t, _buy, victim, wallet, instrument, ip)


def _recently_active_victim(world: World, at: float) -> User | None:
    """An old account whose owner bought something honestly 10 minutes to 4 hours before `at`
    (orders are created in time order, so the window is a slice)."""
    lo = bisect_right(world.orders, at - 4 * HOUR, key=lambda o: o.created_at)
    hi = bisect_right(world.orders, at - 10 * MINUTE, key=lambda o: o.created_at)
    candidates = [
        o.user
        for o in world.orders[lo:hi]
        if o.scenario == LEGIT and o.user.created_at < world.start - 30 * DAY and o.user.kind in VICTIM_KINDS
    ]
    return world.rng.choice(candidates) if candidates else None


def _buy(world: World, at: float, user: User, wallet: str, instrument: tuple[str, str], ip: str) -> None:
    if buy_resale(world, at, user, wallet, None, instrument, ip, ACCOUNT_TAKEOVER) is None:
        buy_primary(world, at, user, wallet, None, instrument, ip, ACCOUNT_TAKEOVER)


def _takeover_size(rng: random.Random, remaining: int) -> int:
    return min(remaining, rng.randint(2, 5))


ACCOUNT_TAKEOVER = Scenario(
    name="account_takeover",
    fraud_share=0.20,
    # Never in the first fifth of the window (as since the simulator's first version, which gave no
    # reason; presumably so that the victim has honest activity in the window to depart from).
    plan=episodes(takeover, _takeover_size, starts_within=(0.2, 1)),
    label_sources=(
        LabelSource("customer_report", 0.6, (0.3, 5)),
        LabelSource("chargeback", 0.4, (4, 30)),
    ),
    prefers_expensive_events=True,
    prefers_expensive_listings=True,
)

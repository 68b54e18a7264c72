"""The marketplace before the window: a running marketplace's honest customers have been signing in
for months, so a demo week (or any window) starts at steady state, not on a marketplace's first day.

Accounts already arrive with their real registration dates (tooling.simulator.people: most opened up
to 720 days before the window, told through ingest's `user.created` / `wallet.linked`). This adds the
sessions and logins of the 90 days before the window (shared.features.formulas.ACCOUNT_HISTORY_WINDOW)
that those accounts would have left: from their home IPs (now and then mobile data in their country),
in their own browser, a mistyped password now and then, at the rate they shop.

What it does not touch: every draw comes from its own RNG (seeded from the config's seed), after the
window's world has run, so the window's marketplace, every fraud scenario's episodes included, is
exactly the one the same seed gave without it (tests/integration/test_simulator_fingerprint.py pins
both: only the sessions, logins and their counts moved). Fraudsters' accounts get none (they opened
them for the attack); purchases and transfers before the window are not simulated: the features that
count them (attendance, hold time, centrality, payment diversity) start from the chain's deployment
block (CHAIN_LEAD before the window) as before.
"""

from __future__ import annotations

import math
import random

from tooling.simulator.geo import random_ip
from tooling.simulator.people import REGULAR_KINDS
from tooling.simulator.records import User
from tooling.simulator.scenarios.legit import SHOPPING_FREQUENCY
from tooling.simulator.traffic import login
from tooling.simulator.world import DAY, MINUTE, World

HISTORY_DAYS = 90.0
# Sessions a regular customer opens in 90 days (the frequent shoppers more, as they shop more).
SESSIONS_PER_HISTORY = 4.0
LOGIN_SHARE = 0.7  # sessions that start with a login (else the account was still signed in)
MISTYPED_PASSWORD = 0.08  # as traffic.session
MOBILE_DATA = 0.1  # as the honest scenario's _ip


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method (means here are a few units)."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _sessions(world: World, rng: random.Random, user: User) -> None:
    lo = max(user.created_at, world.start - HISTORY_DAYS * DAY)
    span = world.start - lo
    if span <= 0:
        return
    mean = SESSIONS_PER_HISTORY * SHOPPING_FREQUENCY.get(user.kind, 1.0) * span / (HISTORY_DAYS * DAY)
    for started in sorted(lo + rng.random() * span for _ in range(_poisson(rng, mean))):
        ip = random_ip(rng, user.country) if rng.random() < MOBILE_DATA else rng.choice(user.home_ips)
        if rng.random() < LOGIN_SHARE:
            if rng.random() < MISTYPED_PASSWORD:
                login(world, user, user.email, ip, started - 40 - rng.random() * 60, success=False,
                      reason="bad_password")  # fmt: skip
            login(world, user, user.email, ip, started - 5 - rng.random() * 20, success=True, reason=None)
        # Before the window, all of it (a session a few minutes before it would otherwise run into it).
        # A session drawn in the window's last second would end before it began: it ends where it began.
        ended = max(started, min(started + rng.uniform(1, 30) * MINUTE, world.start - 1.0))
        world.sessions.append(
            (world.next_session_id, user.user_id, ip, user.agent, round(started, 3), round(ended, 3))
        )
        world.next_session_id += 1


def add_history(world: World) -> None:
    """The 90 days of sessions and logins before the window of every honest account opened before it."""
    rng = random.Random(f"ticketguard-sim-history:{world.config.seed}")
    for user in world.users:
        if user.kind in REGULAR_KINDS and user.created_at < world.start:
            _sessions(world, rng, user)

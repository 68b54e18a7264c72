"""Accounts: who they are (kind, country, e-mail), what they pay with, where they connect from, and
the population the run starts with."""

from __future__ import annotations

from tooling.simulator.geo import HOME_COUNTRY_WEIGHTS, random_ip
from tooling.simulator.records import User
from tooling.simulator.vocabulary import (
    BOT_EMAIL_DOMAINS,
    BOT_USER_AGENTS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    USER_AGENTS,
)
from tooling.simulator.world import DAY, HOUR, World

# Honest customers, from the many who buy now and then to the few who buy a lot (power users and
# resellers) or look like fraud (travellers, VPN users): the population's mix.
REGULAR_KINDS = ["regular", "power", "traveller", "vpn", "reseller"]
REGULAR_KIND_WEIGHTS = [0.85, 0.04, 0.05, 0.03, 0.03]


def new_user(world: World, kind: str, created_at: float, *, country: str | None = None) -> User:
    rng = world.rng
    uid = world.next_user_id
    world.next_user_id += 1
    if country is None:
        country = rng.choices(list(HOME_COUNTRY_WEIGHTS), weights=list(HOME_COUNTRY_WEIGHTS.values()))[0]
    if kind == "bot":
        email = f"{world.hex(4)}{uid}@{rng.choice(BOT_EMAIL_DOMAINS)}"
    elif kind == "admin":
        email = f"ops{uid}@ticketguard.example"
    else:
        email = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}{uid}@{rng.choice(EMAIL_DOMAINS)}"
    user = User(uid, email, country, round(created_at, 3), kind)
    n_wallets = 2 if rng.random() < 0.15 else 1
    for _ in range(n_wallets):
        user.wallets.append("0x" + world.hex(20))
    n_cards = {"power": rng.randint(2, 4), "fraudster": 0}.get(kind, 1 + (rng.random() < 0.2))
    for _ in range(n_cards):
        user.instruments.append(("card", "card_" + world.hex(8)))
    if kind in REGULAR_KINDS and rng.random() < 0.15:
        user.instruments.append(("crypto", user.wallets[0]))
    if kind == "regular" and rng.random() < 0.05:
        user.instruments.append(("bank_transfer", "iban_" + world.hex(8)))
    if kind == "ring":
        user.instruments = [("crypto", user.wallets[0])]
    user.home_ips = [random_ip(rng, country) for _ in range(1 + (rng.random() < 0.3))]
    user.agent = rng.choice(BOT_USER_AGENTS if kind == "bot" else USER_AGENTS)
    world.users.append(user)
    return user


# Honest accounts opened during the window, per day of it (at most OPENED_IN_WINDOW_MAX): a running
# marketplace gains about 0.1% of its customers a day, so a week's window opens 0.7% of them, not a
# tenth (issue 23: with a fixed 10% a 7-day demo's honest buyers were ten times as often hours-old
# accounts as in any week of the 100-day training world, and looked like bots).
OPENED_IN_WINDOW_PER_DAY = 0.001
OPENED_IN_WINDOW_MAX = 0.1


def build_population(world: World, n_users: int) -> None:
    """Three admins and `n_users` honest customers (fraudsters open their accounts as they strike)."""
    rng = world.rng
    opened_in_window = min(OPENED_IN_WINDOW_MAX, OPENED_IN_WINDOW_PER_DAY * world.config.days)
    for _ in range(3):
        new_user(world, "admin", world.start - 400 * DAY, country="GB")
    for _ in range(n_users):
        # Most accounts predate the window; some are opened during it, at a steady rate.
        if rng.random() >= opened_in_window:
            created = world.start - rng.random() ** 1.5 * 720 * DAY - HOUR
        else:
            created = world.time_in_window()
        new_user(world, rng.choices(REGULAR_KINDS, weights=REGULAR_KIND_WEIGHTS)[0], created)
    world.regulars = [u for u in world.users if u.kind in REGULAR_KINDS]

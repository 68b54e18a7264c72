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
from tooling.simulator.world import DAY, World

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


# Honest accounts open at one steady rate over the HISTORY_DAYS before the window and during it (about
# 0.14% of the customers a day), so that any week of any window looks like any other (issue 23): a
# density piling up just before the window (it was 720 x U^1.5 days, 4.6% of the accounts under a week
# old on the first day) or a rate of its own inside it made the first and the last week younger than
# the middle ones.
ACCOUNT_HISTORY_DAYS = 720.0


def build_population(world: World, n_users: int) -> None:
    """Three admins and `n_users` honest customers (fraudsters open their accounts as they strike)."""
    rng = world.rng
    for _ in range(3):
        new_user(world, "admin", world.start - 400 * DAY, country="GB")
    first = world.start - ACCOUNT_HISTORY_DAYS * DAY
    for _ in range(n_users):
        created = first + rng.random() * (world.end - first)
        new_user(world, rng.choices(REGULAR_KINDS, weights=REGULAR_KIND_WEIGHTS)[0], created)
    world.regulars = [u for u in world.users if u.kind in REGULAR_KINDS]

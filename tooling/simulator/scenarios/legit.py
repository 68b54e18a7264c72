"""Honest shopping: customers buying a few tickets in a session, now and then from a resale, some
reselling what they cannot use (resellers at a markup, on purpose), and many sessions that buy
nothing. Travellers, VPN users, power users and resellers look like fraud: the model must tell."""

from __future__ import annotations

import random
from bisect import bisect_right
from decimal import Decimal
from itertools import accumulate

from tooling.simulator.catalogue import pick_event
from tooling.simulator.config import LEGIT
from tooling.simulator.geo import HOSTING_COUNTRIES, far_country, random_ip
from tooling.simulator.market import buy_primary, buy_resale, delist_ticket, list_ticket
from tooling.simulator.records import Event, Order, User
from tooling.simulator.scenario import Scenario
from tooling.simulator.traffic import session
from tooling.simulator.world import DAY, HOUR, World

BROWSE_PER_EPISODE = 2.5  # sessions that buy nothing, per session that buys
# How much more often than a regular customer one of these shops.
SHOPPING_FREQUENCY = {"power": 8.0, "reseller": 4.0}


def plan(world: World, n_orders: int) -> int:
    """Shopping episodes by customers (the frequent ones more often) until they add up to
    `n_orders`, and browsing-only sessions in proportion; returns the shopping episodes. The moment
    comes first, then the customer among the accounts open by then: an account shops at its kind's
    pace from the day it opens (issue 23: drawn first and then given a moment after its opening, an
    account opened late in the window crammed its purchases into the window's last days)."""
    rng = world.rng
    regulars = sorted(world.regulars, key=lambda u: u.created_at)
    opened = [u.created_at for u in regulars]
    cum = list(accumulate(SHOPPING_FREQUENCY.get(u.kind, 1.0) for u in regulars))

    def customer(at: float) -> User:
        n = max(1, bisect_right(opened, at))
        return regulars[min(n - 1, bisect_right(cum, rng.random() * cum[n - 1]))]

    planned = n_episodes = 0
    while planned < n_orders:
        at = world.time_in_window()
        user = customer(at)
        n = min(_episode_size(rng, user), n_orders - planned)
        world.push(max(at, user.created_at), episode, user, n)
        planned += n
        n_episodes += 1
    for _ in range(round(n_episodes * BROWSE_PER_EPISODE)):
        at = world.time_in_window()
        user = customer(at)
        world.push(max(at, user.created_at), browse, user)
    return n_episodes


def _episode_size(rng: random.Random, user: User) -> int:
    if user.kind == "power":
        return rng.randint(2, 8)
    if user.kind == "reseller":
        return rng.randint(2, 6)
    return rng.choice((1, 1, 2, 2, 2, 3, 4))


def episode(world: World, at: float, user: User, n: int) -> None:
    """One session buying `n` tickets a few minutes apart, all for one event or all from resales."""
    rng = world.rng
    ip = _ip(world, user, at)
    wallet = rng.choice(user.wallets)
    instrument = _instrument(rng, user)
    resale = bool(world.public_listings) and rng.random() < 0.22
    event = pick_event(world)
    times = [at + rng.uniform(60, 600)]
    for _ in range(n - 1):
        times.append(times[-1] + rng.uniform(8, 150))
    ips = [ip] * n
    if user.kind == "vpn" and n >= 2 and rng.random() < 0.6:
        # The VPN goes on (or off) mid-purchase: the next orders come from another continent,
        # seconds later. Honest, and exactly what impossible travel looks like.
        switched = random_ip(rng, far_country(rng, user.country, pool=HOSTING_COUNTRIES))
        half = n // 2
        ips = [ip] * half + [switched] * (n - half)
        session(world, user, ip, at, times[half - 1] + rng.uniform(5, 30), with_login=rng.random() < 0.7)
        session(
            world,
            user,
            switched,
            times[half] - rng.uniform(5, 20),
            times[-1] + rng.uniform(60, 900),
            with_login=False,
        )
    else:
        session(world, user, ip, at, times[-1] + rng.uniform(60, 900), with_login=rng.random() < 0.7)
    for t, order_ip in zip(times, ips, strict=True):
        if resale:
            world.push(t, _resale_step, user, wallet, instrument, order_ip)
        else:
            world.push(t, _primary_step, user, wallet, event, instrument, order_ip)


def browse(world: World, at: float, user: User) -> None:
    if at < user.created_at:
        return
    session(
        world,
        user,
        _ip(world, user, at),
        at,
        at + world.rng.uniform(30, 1800),
        with_login=world.rng.random() < 0.6,
    )


def _ip(world: World, user: User, at: float) -> str:
    rng = world.rng
    if user.kind == "traveller" and rng.random() < 0.35:
        # On a trip: a stable far-away place for a few days (the seed of the trip is the day).
        trip = random.Random(world.config.seed * 7_919 + user.user_id * 1_000_003 + int(at // (3 * DAY)))
        return random_ip(trip, far_country(trip, user.country), trip.randrange(6))
    if user.kind == "vpn" and rng.random() < 0.5:
        return random_ip(rng, rng.choice(HOSTING_COUNTRIES))  # a VPN exit: hops countries in minutes
    if rng.random() < 0.1:
        return random_ip(rng, user.country)  # mobile data
    return rng.choice(user.home_ips)


def _instrument(rng: random.Random, user: User) -> tuple[str, str]:
    # Most people pay with the same thing most of the time.
    if len(user.instruments) == 1 or rng.random() < 0.7:
        return user.instruments[0]
    return rng.choice(user.instruments)


def _primary_step(
    world: World,
    at: float,
    user: User,
    wallet: str,
    event: Event | None,
    instrument: tuple[str, str],
    ip: str,
) -> None:
    buy_primary(world, at, user, wallet, event, instrument, ip, HONEST_SHOPPING, then=_maybe_resell)


def _resale_step(
    world: World, at: float, user: User, wallet: str, instrument: tuple[str, str], ip: str
) -> None:
    if buy_resale(world, at, user, wallet, None, instrument, ip, HONEST_SHOPPING) is None:
        buy_primary(world, at, user, wallet, None, instrument, ip, HONEST_SHOPPING, then=_maybe_resell)


def _maybe_resell(world: World, at: float, token_id: int, order: Order) -> None:
    rng = world.rng
    if order.user.kind == "reseller" and rng.random() < 0.7:
        # Honest resellers: fast resale at a markup (what scalpers do, at a human scale).
        when, markup = at + rng.uniform(1, 48) * HOUR, rng.uniform(1.1, 1.6)
    elif rng.random() < 0.15:
        when, markup = at + rng.uniform(2, 120) * HOUR, rng.uniform(0.75, 1.3)  # can't go after all
    else:
        return
    world.push(when, _list_step, token_id, order.wallet, order.price * Decimal(str(round(markup, 3))))


def _list_step(world: World, at: float, token_id: int, seller: str, price: Decimal) -> None:
    # Some change their mind and take the ticket off the market again.
    if list_ticket(world, at, token_id, seller, price) and world.rng.random() < 0.12:
        world.push(at + world.rng.uniform(2, 72) * HOUR, _delist_step, token_id, seller)


def _delist_step(world: World, at: float, token_id: int, seller: str) -> None:
    delist_ticket(world, at, token_id, seller)


HONEST_SHOPPING = Scenario(
    name=LEGIT,
    fraud_share=None,
    plan=plan,
    declined=0.007,
    refunded=0.01,
)

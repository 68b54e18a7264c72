"""What a demo week needs of its world (`make run`, issue 23): the accounts the window touches, each with
its true registration date and the history its features read, summarised; not the whole population.

At steady state the population is sized by the orders of a day (tooling.simulator.generate: 25 accounts
per daily honest order), and a customer shops about every seven weeks: a 7-day x 400 world has ~9,900
accounts, of which about a quarter act in the week, and ~53,000 history sessions. Posted one by one through
the ingest API, that took `make run` past the README test's limit. An account that does nothing in the
window changes no feature of any purchase in it (every feature is the buyer's own, or the window's
orders and chain), so the seeding leaves it out; the world itself is generated in full and unchanged
(same seed, same purchases, same fraud), only what is posted is trimmed.

Kept:
- every account the window names: buyers (and so the sellers, who bought earlier), accounts with a
  session or a login attempt in the window (credential stuffing's victims, admins), the demo cast;
  each with all its wallets and its own `created_at` (account_age_days, wallet_age_days);
- of their sessions before the window (tooling.simulator.history), the ones the signals can tell
  apart (shared.features.signals: new_ip and new_device ask whether the 90 days before t hold a session
  from this IP / with this user agent, a purchase's own session is the latest of the last 2 h): every
  session that started in the RECENT_SESSION_WINDOW before the window, and of the older ones, the
  latest per (account, IP) and per (account, user agent). For any t in the window each of those
  questions has the same answer as on the full history (the latest of a group is in a time range
  whenever any of it is, the range's upper end moving only through the sessions kept whole);
- their login attempts of the FAILED_LOGIN_WINDOW before the window (failed_logins_1h, the one signal
  that reads logins; older ones answer no feature of a purchase in the window).

Dropped: the accounts nobody meets in the window, the sessions that repeat what a kept one already
says, and the older logins. `make run`'s seeding trims (SimulationConfig.trim_to_window, through ingest
or in bulk), and so does the live-path evaluation (tooling.livepath.replay), to its measured days: there
the orders before them stay whole (every order is posted, its buyer and seller with it), and of the
sessions and logins before them only what a measured purchase reads (its account's history, summarised
as above; the last hour's logins). At 35 days x 900 a day that leaves out about three posted facts in
five. Training sets and the simulator's CLI write the whole world.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.features import formulas
from tooling.simulator.world import World


@dataclass(frozen=True)
class Trimmed:
    """What the trim kept of the world, and what it had (for the seeding's line)."""

    users: tuple[int, int]  # kept, had
    sessions: tuple[int, int]
    logins: tuple[int, int]

    def line(self) -> str:
        return (
            f"{self.users[0]:,} of {self.users[1]:,} accounts (those the window touches), "
            f"{self.sessions[0]:,} of {self.sessions[1]:,} sessions and {self.logins[0]:,} of {self.logins[1]:,} "
            "login attempts (the window's, and the history its features read, summarised)"
        )


def order_accounts(world: World, orders: Iterable[Any]) -> set[int]:
    """The accounts orders name: the buyer, and the owner of the seller's wallet on a resale."""
    owner = {address: user.user_id for user in world.users for address in user.wallets}
    named: set[int] = set()
    for order in orders:
        named.add(order.user.user_id)
        if order.seller_wallet in owner:
            named.add(owner[order.seller_wallet])
    return named


def touched_users(world: World, window_start: float, *, orders_from: float | None = None) -> set[int]:
    """The accounts the orders from `orders_from` (default: all, every order being posted) name and
    those with a session or a login in the window."""
    orders = [o for o in world.orders if orders_from is None or o.created_at >= orders_from]
    touched = order_accounts(world, orders)
    touched |= {uid for _, uid, _, _, started, _ in world.sessions if started >= window_start}
    touched |= {uid for _, uid, *_, at in world.logins if uid is not None and at >= window_start}
    return touched


def history_sessions(window_start: float, sessions: Iterable[tuple]) -> list[tuple]:
    """Of the sessions before the window: those its last RECENT_SESSION_WINDOW holds, and of the older
    ones the latest per (account, IP) and per (account, user agent); in their original order."""
    recent_from = window_start - formulas.RECENT_SESSION_WINDOW.total_seconds()
    keep: set[int] = set()
    latest: dict[tuple[int, str, str], tuple[float, int]] = {}
    for sid, uid, ip, agent, started, _ in sessions:
        if started >= recent_from:
            keep.add(sid)
            continue
        for key in ((uid, "ip", ip), (uid, "agent", agent)):
            if key not in latest or (started, sid) > latest[key]:
                latest[key] = (started, sid)
    keep |= {sid for _, sid in latest.values()}
    return [s for s in sessions if s[0] in keep]


def trim_to_window(world: World, window_start: float | None = None) -> Trimmed:
    """Keeps the accounts the window touches with the history their features read (module docstring);
    world.users, .sessions and .logins shrink in place, everything else stays as generated.

    The window is the world's (`make run`'s week), or its part from `window_start` (epoch seconds: the
    live-path evaluation's measured days): the sessions and logins before it are history, kept only
    where a purchase in the window reads them, and the orders before it are all kept (with their
    buyers and sellers: the chain, the jobs' aggregates and the cold-start guard read them)."""
    start = world.start if window_start is None else max(world.start, window_start)
    had = (len(world.users), len(world.sessions), len(world.logins))
    # The accounts the window itself names; and every order's, which is posted: an account that only
    # bought before the window needs its rows, not its sessions (in `make run`'s week, the same set).
    window_accounts = touched_users(world, start, orders_from=start)
    keep = window_accounts | order_accounts(world, world.orders)
    world.users = [u for u in world.users if u.user_id in keep]
    world.regulars = [u for u in world.regulars if u.user_id in keep]
    # Only a purchase in the window reads sessions before it: its own account's.
    before = [s for s in world.sessions if s[1] in window_accounts and s[4] < start]
    kept_history = history_sessions(start, before)
    kept_ids = {s[0] for s in kept_history}
    world.sessions = [s for s in world.sessions if s[0] in kept_ids or (s[1] in keep and s[4] >= start)]
    failed_from = start - formulas.FAILED_LOGIN_WINDOW.total_seconds()
    world.logins = [
        row for row in world.logins if row[7] >= failed_from and (row[1] is None or row[1] in keep)
    ]
    return Trimmed(
        users=(len(world.users), had[0]),
        sessions=(len(world.sessions), had[1]),
        logins=(len(world.logins), had[2]),
    )

"""The marketplace's state, as a discrete-event simulation driven by one seeded RNG.

Everything that happens is an action on a time-ordered heap (a shopping session, one purchase, a
listing, a wash-trading hop), so ticket ownership and listings are always consistent and the chain
operations come out in time order. The output is plain rows (tuples in table-column order) and a
list of chain operations; `tooling.simulator.run` executes the operations on a chain and writes
the rows. No set is ever iterated (string hashing is salted per process): same seed, same world.

`World` holds the state and the clock; the modules around it act on it: `people` (accounts),
`catalogue` (events on sale), `traffic` (sessions and logins), `market` (orders and listings), the
scenarios in `tooling.simulator.scenarios` (who does what, when) and `generate` (the whole run).
Every draw comes from `World.rng`, so the order in which they run is part of the output.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from typing import Any

from tooling.simulator.config import SimulationConfig
from tooling.simulator.records import ChainOp, Event, Listing, Order, User
from tooling.simulator.vocabulary import HOURLY_ACTIVITY

DAY = 86_400.0
HOUR = 3_600.0
MINUTE = 60.0

# An action runs as `action(world, at, *args)`: plain functions, so that the scenario modules own
# their steps and the world knows nothing of them.
Action = Callable[..., None]


class World:
    def __init__(self, config: SimulationConfig, *, organizer: str) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.start = config.start.timestamp()
        self.end = config.end.timestamp()
        self.organizer = organizer.lower()
        self._heap: list[tuple[float, int, Action, tuple[Any, ...]]] = []
        self._seq = 0  # ties on time run in the order they were scheduled

        # What run.py writes (rows in the order they happened).
        self.users: list[User] = []
        self.events: list[Event] = []
        self.event_meta: list[tuple[str, str, str, str, str]] = []  # name, venue, city, country, category
        self.orders: list[Order] = []  # created in time order (the heap's)
        self.sessions: list[tuple[Any, ...]] = []
        self.logins: list[tuple[Any, ...]] = []
        self.ops: list[ChainOp] = []
        self.owner: dict[int, str] = {}  # token -> wallet (only tokens that left the organizer)
        self.held_since: dict[int, float] = {}
        self.listing_ops = 0

        # people: the accounts that shop honestly (and that fraud preys on)
        self.next_user_id = 1
        self.regulars: list[User] = []
        # catalogue: events on sale, by popularity (a cumulative table, rebuilt when one sells out)
        self.next_ticket_id = 1
        self.open_events: list[Event] = []
        self.open_cumulative: list[float] | None = None
        self.events_by_face: list[Event] = []
        # market: listings, and the public ones in a list that swap-removes (random picks in O(1))
        self.next_order_id = 1
        self.listings: dict[int, Listing] = {}
        self.public_listings: list[int] = []
        self.public_position: dict[int, int] = {}
        # traffic
        self.next_session_id = 1
        self.next_attempt_id = 1

    # ------------------------------------------------------------------ the heap of actions
    def push(self, at: float, action: Action, *args: Any) -> None:
        """Schedules `action(world, at, *args)`; nothing after the window happens (not yet)."""
        if at > self.end:
            return
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, action, args))

    def run_actions(self) -> None:
        """Runs every scheduled action in time order, including those the actions schedule."""
        while self._heap:
            at, _, action, args = heapq.heappop(self._heap)
            action(self, at, *args)

    # ------------------------------------------------------------------ the clock
    def time_in_window(self, lo: float | None = None, hi: float | None = None) -> float:
        """A moment between lo and hi (default: the window), following the daily activity curve."""
        lo = self.start if lo is None else lo
        hi = self.end if hi is None else hi
        for _ in range(20):
            day = math.floor(lo / DAY) + self.rng.randrange(max(1, math.ceil((hi - lo) / DAY) + 1))
            hour = self.rng.choices(range(24), weights=HOURLY_ACTIVITY)[0]
            t = day * DAY + hour * HOUR + self.rng.random() * HOUR
            if lo <= t < hi:
                return round(t, 3)
        return round(lo + self.rng.random() * (hi - lo), 3)

    def point_in_window(self, share: float) -> float:
        """The moment `share` of the way through the window; 1 is the end itself (start plus the
        window's length can miss it by a rounding)."""
        if share >= 1:
            return self.end
        return self.start + share * (self.end - self.start)

    # ------------------------------------------------------------------ identifiers
    def hex(self, n_bytes: int) -> str:
        """Random bytes as hex: wallet addresses, card and account numbers."""
        return self.rng.getrandbits(8 * n_bytes).to_bytes(n_bytes, "big").hex()

"""The marketplace's behaviour, as a discrete-event simulation driven by one seeded RNG.

Everything that happens is an action on a time-ordered heap (a shopping session, one purchase, a
listing, a wash-trading hop), so ticket ownership and listings are always consistent and the chain
operations come out in time order. The output is plain rows (tuples in table-column order) and a
list of chain operations; `shared.simulator.run` executes the operations on a chain and writes
the rows. No set is ever iterated (string hashing is salted per process): same seed, same world.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.chain.evm import PRIMARY_FEE_BPS, RESALE_FEE_BPS
from shared.chain.units import usd_to_wei, wei_to_usd
from shared.simulator.config import LEGIT, SCENARIO_SHARES, SimulationConfig
from shared.simulator.geo import (
    HOME_COUNTRY_WEIGHTS,
    HOSTING_COUNTRIES,
    RISKY_COUNTRIES,
    far_country,
    random_ip,
)

DAY = 86_400.0
HOUR = 3_600.0
MINUTE = 60.0
BROWSE_PER_EPISODE = 2.5  # sessions that buy nothing, per session that buys

# UTC hour -> relative activity (evenings in Europe and the Americas dominate).
_HOURLY = [3, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 11, 12, 14, 16, 17, 16, 13, 9, 5]
_FIRST = ["ana", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "iris", "jack", "kai", "lena",
          "marco", "nora", "oscar", "paula", "quinn", "rosa", "sam", "tara", "umar", "vera", "will", "yuki",
          "zoe", "ade", "bruno", "chen", "dmitri", "elif", "farah", "goran", "hana", "ivan", "jun", "kofi"]  # fmt: skip
_LAST = ["smith", "garcia", "muller", "rossi", "dubois", "silva", "kim", "tanaka", "novak", "jensen", "okafor",
         "ivanova", "lopez", "brown", "wilson", "martin", "santos", "nguyen", "kowalski", "hansen", "patel"]  # fmt: skip
_DOMAINS = ["mail.example", "inbox.example", "post.example", "webmail.example", "fastmail.example"]
_BOT_DOMAINS = ["tmpbox.example", "quickinbox.example", "mail.example"]
_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "TicketApp/4.12 (iOS 18.1)",
    "TicketApp/4.11 (Android 15)",
]
_BOT_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/130.0 Safari/537.36",
    "python-httpx/0.27",
]
_CATEGORIES = {  # category -> (share, face value range USD)
    "concert": (0.40, (35, 260)),
    "sports": (0.25, (30, 320)),
    "theatre": (0.15, (25, 160)),
    "festival": (0.12, (90, 420)),
    "conference": (0.08, (180, 1400)),
}
_ARTISTS = ["Neon Harbor", "The Velvet Tides", "Kora Quartet", "Midnight Static", "Lumen", "Aria Vale",
            "Copper Foxes", "Solstice", "Blue Meridian", "Northbound", "Hollow Pines", "Saffron Sky"]  # fmt: skip
_CITIES = {"US": "New York", "GB": "London", "DE": "Berlin", "FR": "Paris", "ES": "Madrid", "IT": "Rome",
           "NL": "Amsterdam", "SE": "Stockholm", "PL": "Warsaw", "BR": "Sao Paulo", "AR": "Buenos Aires",
           "MX": "Mexico City", "CA": "Toronto", "JP": "Tokyo", "KR": "Seoul", "SG": "Singapore",
           "IN": "Mumbai", "AU": "Sydney", "ZA": "Johannesburg", "NG": "Lagos", "RU": "Moscow",
           "VN": "Hanoi", "ID": "Jakarta", "UA": "Kyiv", "RO": "Bucharest"}  # fmt: skip
_VENUE_KIND = {"concert": "Arena", "sports": "Stadium", "theatre": "Playhouse", "festival": "Park",
               "conference": "Convention Centre"}  # fmt: skip
EVENT_COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "MX", "CA", "JP", "AU")


@dataclass
class User:
    user_id: int
    email: str
    country: str
    created_at: float
    kind: str  # regular | power | traveller | vpn | reseller | bot | fraudster | ring | admin
    wallets: list[str] = field(default_factory=list)
    instruments: list[tuple[str, str]] = field(default_factory=list)  # (payment_type, instrument)
    home_ips: list[str] = field(default_factory=list)
    agent: str = ""


@dataclass
class Event:
    event_id: int
    capacity: int
    face_value: Decimal
    popularity: float
    first_ticket_id: int
    sale_starts_at: float
    created_at: float
    sold: int = 0  # tickets sold in primary (the next unsold ticket is first_ticket_id + sold)
    open: bool = False


@dataclass
class Order:
    order_id: int
    transaction_id: str
    ticket_id: int
    event_id: int
    user: User
    wallet: str
    seller_wallet: str | None
    price: Decimal
    fee: Decimal
    payment_type: str
    instrument: str
    ip: str
    status: str
    created_at: float
    scenario: str
    updated_at: float = 0.0
    chain_tx_hash: str | None = None


@dataclass
class ChainOp:
    """One contract call in time order. `kind` names a TicketMarketClient / SyntheticChain method."""

    at: float
    kind: str  # create_event | mint_batch | buy_primary_for | list_for | delist_for | buy_resale_for
    args: tuple[Any, ...]
    order: Order | None = None
    event_id: int | None = None  # for mint_batch: which event's tickets


@dataclass
class Listing:
    token_id: int
    seller: str
    price: Decimal
    public: bool  # wash-trading rings keep theirs to themselves


def fee_for(price: Decimal, kind: str) -> Decimal:
    """The platform fee exactly as the contract computes it (wei, rounded down), in USD."""
    bps = PRIMARY_FEE_BPS if kind == "primary" else RESALE_FEE_BPS
    return wei_to_usd(usd_to_wei(price) * bps // 10_000)


class World:
    def __init__(self, config: SimulationConfig, *, organizer: str) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.start = config.start.timestamp()
        self.end = config.end.timestamp()
        self.organizer = organizer.lower()
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self.users: list[User] = []
        self.events: list[Event] = []
        self.orders: list[Order] = []
        self.sessions: list[tuple[Any, ...]] = []
        self.logins: list[tuple[Any, ...]] = []
        self.ops: list[ChainOp] = []
        self.owner: dict[int, str] = {}  # token -> wallet (only tokens that left the organizer)
        self.held_since: dict[int, float] = {}
        self.listings: dict[int, Listing] = {}
        self._public: list[int] = []  # token ids with a public listing (swap-remove)
        self._public_pos: dict[int, int] = {}
        self.listing_ops = 0
        self._wallet_user: dict[str, User] = {}
        self._open_events: list[Event] = []
        self._open_cum: list[float] | None = None
        self._by_face: list[Event] = []
        self._next_user = 1
        self._next_ticket = 1
        self._next_order = 1
        self._next_session = 1
        self._next_attempt = 1
        self._last_ip: dict[int, str] = {}
        self._event_meta: list[tuple[str, str, str, str, str]] = []
        # Multi-step schemes (wash-trading hops) run faster in a short window, so they fit in it.
        self._pace = min(1.0, max(0.05, config.days / 10))
        self._regulars: list[User] = []
        self._weights: list[float] = []
        # Honest purchases in time order (orders are created in heap order): account takeovers
        # strike accounts that were just in use.
        self._recent_buyer_times: list[float] = []
        self._recent_buyers: list[User] = []

    # ================================================================== helpers
    def _push(self, at: float, action: Callable[..., None], *args: Any) -> None:
        if at > self.end:
            return  # after the window: it has not happened yet
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, action, args))

    def _hex(self, n_bytes: int) -> str:
        return self.rng.getrandbits(8 * n_bytes).to_bytes(n_bytes, "big").hex()

    def _time_in_window(self, lo: float | None = None, hi: float | None = None) -> float:
        """A moment between lo and hi (default: the window), following the daily activity curve."""
        lo = self.start if lo is None else lo
        hi = self.end if hi is None else hi
        for _ in range(20):
            day = math.floor(lo / DAY) + self.rng.randrange(max(1, math.ceil((hi - lo) / DAY) + 1))
            hour = self.rng.choices(range(24), weights=_HOURLY)[0]
            t = day * DAY + hour * HOUR + self.rng.random() * HOUR
            if lo <= t < hi:
                return round(t, 3)
        return round(lo + self.rng.random() * (hi - lo), 3)

    def _new_user(self, kind: str, created_at: float, *, country: str | None = None) -> User:
        rng = self.rng
        uid = self._next_user
        self._next_user += 1
        if country is None:
            country = rng.choices(list(HOME_COUNTRY_WEIGHTS), weights=list(HOME_COUNTRY_WEIGHTS.values()))[0]
        if kind == "bot":
            email = f"{self._hex(4)}{uid}@{rng.choice(_BOT_DOMAINS)}"
        elif kind == "admin":
            email = f"ops{uid}@ticketguard.example"
        else:
            email = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{uid}@{rng.choice(_DOMAINS)}"
        user = User(uid, email, country, round(created_at, 3), kind)
        n_wallets = 2 if rng.random() < 0.15 else 1
        for _ in range(n_wallets):
            address = "0x" + self._hex(20)
            user.wallets.append(address)
            self._wallet_user[address] = user
        n_cards = {"power": rng.randint(2, 4), "fraudster": 0}.get(kind, 1 + (rng.random() < 0.2))
        for _ in range(n_cards):
            user.instruments.append(("card", "card_" + self._hex(8)))
        if kind in {"regular", "power", "traveller", "vpn", "reseller"} and rng.random() < 0.15:
            user.instruments.append(("crypto", user.wallets[0]))
        if kind == "regular" and rng.random() < 0.05:
            user.instruments.append(("bank_transfer", "iban_" + self._hex(8)))
        if kind == "ring":
            user.instruments = [("crypto", user.wallets[0])]
        user.home_ips = [random_ip(rng, country) for _ in range(1 + (rng.random() < 0.3))]
        user.agent = rng.choice(_BOT_AGENTS if kind == "bot" else _AGENTS)
        self.users.append(user)
        return user

    def _instrument(self, user: User) -> tuple[str, str]:
        # Most people pay with the same thing most of the time.
        if len(user.instruments) == 1 or self.rng.random() < 0.7:
            return user.instruments[0]
        return self.rng.choice(user.instruments)

    # ================================================================== static world
    def build_population(self, n_users: int) -> None:
        rng = self.rng
        for _ in range(3):
            self._new_user("admin", self.start - 400 * DAY, country="GB")
        kinds = ["regular", "power", "traveller", "vpn", "reseller"]
        weights = [0.85, 0.04, 0.05, 0.03, 0.03]
        for _ in range(n_users):
            # Most accounts predate the window; some are opened during it.
            if rng.random() < 0.9:
                created = self.start - rng.random() ** 1.5 * 720 * DAY - HOUR
            else:
                created = self._time_in_window()
            self._new_user(rng.choices(kinds, weights=weights)[0], created)
        self._regulars = [
            u for u in self.users if u.kind in {"regular", "power", "traveller", "vpn", "reseller"}
        ]
        self._weights = [{"power": 8.0, "reseller": 4.0}.get(u.kind, 1.0) for u in self._regulars]

    def build_events(self, primary_demand: int) -> None:
        rng = self.rng
        n_events = max(8, min(3000, primary_demand // 150))
        popularity = [rng.lognormvariate(0, 1.0) for _ in range(n_events)]
        share = [rng.lognormvariate(0, 0.6) for _ in range(n_events)]
        total_share = sum(share)
        categories = list(_CATEGORIES)
        for i in range(n_events):
            category = rng.choices(categories, weights=[_CATEGORIES[c][0] for c in categories])[0]
            lo, hi = _CATEGORIES[category][1]
            face = Decimal(rng.randrange(lo, hi + 1)) - (Decimal("0.01") if rng.random() < 0.4 else 0)
            # Capacity follows demand (a popular show gets a bigger venue) but hot ones still sell out.
            capacity = max(20, round(1.5 * primary_demand * share[i] / total_share))
            sale_starts = (
                self.start - rng.random() * 30 * DAY if rng.random() < 0.8 else self._time_in_window()
            )
            created = sale_starts - (1 + rng.random() * 9) * DAY
            event = Event(
                i + 1,
                capacity,
                face,
                popularity[i],
                self._next_ticket,
                round(sale_starts, 3),
                round(created, 3),
            )
            self._next_ticket += capacity
            self.events.append(event)
            country = rng.choice(EVENT_COUNTRIES)
            self._event_meta.append(
                (
                    f"{rng.choice(_ARTISTS)} {category.title()} {2026 + i % 2}",
                    f"{_CITIES[country]} {_VENUE_KIND[category]}",
                    _CITIES[country],
                    country,
                    category,
                )
            )
        for event in sorted(self.events, key=lambda e: (e.created_at, e.event_id)):
            self.ops.append(
                ChainOp(
                    event.created_at,
                    "create_event",
                    (event.event_id, event.capacity, usd_to_wei(event.face_value)),
                )
            )
            self.ops.append(
                ChainOp(
                    event.created_at + 60,
                    "mint_batch",
                    (event.event_id, event.first_ticket_id, event.capacity),
                    event_id=event.event_id,
                )
            )
        self._by_face = sorted(self.events, key=lambda e: (-e.face_value, e.event_id))
        for event in self.events:
            self._push(max(event.sale_starts_at, self.start), self._open_sale, event)

    def _open_sale(self, at: float, event: Event) -> None:
        event.open = True
        self._open_events.append(event)
        self._open_cum = None

    def _open_table(self) -> list[float]:
        if self._open_cum is None:
            self._open_events = [e for e in self._open_events if e.sold < e.capacity]
            self._open_cum = _accumulate([e.popularity for e in self._open_events])
        return self._open_cum

    def _pick_event(self, *, hot: bool = False, expensive: bool = False) -> Event | None:
        """An event on sale with tickets left: by popularity; or among the most popular (scalpers);
        or among the most expensive (stolen cards and taken-over accounts)."""
        cum = self._open_table()
        if not self._open_events:
            return None
        if expensive:
            top = self._by_face[: max(3, len(self._by_face) // 8)]
            candidates = [e for e in top if e.open and e.sold < e.capacity]
            if candidates:
                return self.rng.choice(candidates)
        if hot:
            ranked = sorted(self._open_events, key=lambda e: (-e.popularity, e.event_id))
            candidates = [e for e in ranked if e.sold < e.capacity][:3]
            if candidates:
                return self.rng.choice(candidates)
        for _ in range(8):
            event = self._open_events[min(len(cum) - 1, _bisect(cum, self.rng.random() * cum[-1]))]
            if event.sold < event.capacity:
                return event
        self._open_cum = None  # mostly sold out: rebuild the table without them
        self._open_table()
        return self.rng.choice(self._open_events) if self._open_events else None

    # ================================================================== sessions and logins
    def _login(
        self,
        user: User | None,
        email: str,
        ip: str,
        at: float,
        *,
        success: bool,
        reason: str | None,
        admin: bool = False,
    ) -> None:
        self.logins.append(
            (
                self._next_attempt,
                user.user_id if user else None,
                email,
                ip,
                success,
                reason,
                admin,
                round(at, 3),
            )
        )
        self._next_attempt += 1

    def _session(
        self,
        user: User,
        ip: str,
        started: float,
        ended: float,
        *,
        login: bool = True,
        agent: str | None = None,
    ) -> None:
        if login:
            if self.rng.random() < 0.08:
                self._login(
                    user,
                    user.email,
                    ip,
                    started - 40 - self.rng.random() * 60,
                    success=False,
                    reason="bad_password",
                )
            self._login(user, user.email, ip, started - 5 - self.rng.random() * 20, success=True, reason=None)
        self.sessions.append(
            (
                self._next_session,
                user.user_id,
                ip,
                agent or user.agent,
                round(started, 3),
                round(ended, 3) if ended <= self.end else None,
            )
        )
        self._next_session += 1
        self._last_ip[user.user_id] = ip

    def _legit_ip(self, user: User, at: float) -> str:
        rng = self.rng
        if user.kind == "traveller" and rng.random() < 0.35:
            # On a trip: a stable far-away place for a few days (the seed of the trip is the day).
            trip = random.Random(self.config.seed * 7_919 + user.user_id * 1_000_003 + int(at // (3 * DAY)))
            return random_ip(trip, far_country(trip, user.country), trip.randrange(6))
        if user.kind == "vpn" and rng.random() < 0.5:
            return random_ip(rng, rng.choice(HOSTING_COUNTRIES))  # a VPN exit: hops countries in minutes
        if rng.random() < 0.1:
            return random_ip(rng, user.country)  # mobile data
        return rng.choice(user.home_ips)

    # ================================================================== orders
    def _order(self, at: float, user: User, wallet: str, ticket_id: int, event: Event, seller: str | None,
               price: Decimal, instrument: tuple[str, str], ip: str, scenario: str, status: str) -> Order:  # fmt: skip
        kind = "primary" if seller is None else "resale"
        order = Order(
            order_id=self._next_order,
            transaction_id=f"txn_{self.config.seed % 100000:05d}_{self._next_order:09d}",
            ticket_id=ticket_id,
            event_id=event.event_id,
            user=user,
            wallet=wallet,
            seller_wallet=seller,
            price=price,
            fee=fee_for(price, kind),
            payment_type=instrument[0],
            instrument=instrument[1],
            ip=ip,
            status=status,
            created_at=round(at, 3),
            scenario=scenario,
            updated_at=round(at, 3),
        )
        self._next_order += 1
        self.orders.append(order)
        if scenario == LEGIT:
            self._recent_buyer_times.append(order.created_at)
            self._recent_buyers.append(user)
        return order

    def _status(self, scenario: str) -> str:
        r = self.rng.random()
        if scenario == "stolen_card":
            return "failed" if r < 0.2 else "completed"
        if scenario == LEGIT:
            return "failed" if r < 0.007 else "refunded" if r < 0.017 else "completed"
        return "completed"

    def buy_primary(self, at: float, user: User, wallet: str, event: Event | None, instrument: tuple[str, str],
                    ip: str, scenario: str, then: Callable[[float, int, Order], None] | None = None) -> Order | None:  # fmt: skip
        if event is None or event.sold >= event.capacity or event.sale_starts_at > at:
            event = self._pick_event(expensive=scenario in {"stolen_card", "account_takeover"})
        if event is None:
            return None
        ticket_id = event.first_ticket_id + event.sold
        status = self._status(scenario)
        order = self._order(
            at, user, wallet, ticket_id, event, None, event.face_value, instrument, ip, scenario, status
        )
        if status == "failed":
            return order  # the card was declined: nothing happens on chain
        event.sold += 1
        self.owner[ticket_id] = wallet
        self.held_since[ticket_id] = at
        self.ops.append(
            ChainOp(at, "buy_primary_for", (ticket_id, wallet, usd_to_wei(event.face_value)), order=order)
        )
        if then is not None:
            then(at, ticket_id, order)
        return order

    def buy_resale(self, at: float, user: User, wallet: str, token_id: int | None, instrument: tuple[str, str],
                   ip: str, scenario: str) -> Order | None:  # fmt: skip
        if token_id is None:
            token_id = self._pick_listing(wallet, expensive=scenario == "account_takeover")
            if token_id is None:
                return None
        listing = self.listings.get(token_id)
        if listing is None or self.owner.get(token_id) != listing.seller or listing.seller == wallet:
            return None
        event = self.events[self._event_index(token_id)]
        status = self._status(scenario)
        order = self._order(
            at, user, wallet, token_id, event, listing.seller, listing.price, instrument, ip, scenario, status
        )
        if status == "failed":
            return order
        self._unlist(token_id)
        self.owner[token_id] = wallet
        self.held_since[token_id] = at
        self.ops.append(
            ChainOp(at, "buy_resale_for", (token_id, wallet, usd_to_wei(listing.price)), order=order)
        )
        return order

    def _event_index(self, token_id: int) -> int:
        lo, hi = 0, len(self.events) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.events[mid].first_ticket_id <= token_id:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _pick_listing(self, buyer: str, *, expensive: bool = False) -> int | None:
        if not self._public:
            return None
        if expensive:
            sample = [
                self._public[self.rng.randrange(len(self._public))] for _ in range(min(12, len(self._public)))
            ]
            candidates = sorted(sample, key=lambda t: (-self.listings[t].price, t))
        else:
            candidates = [self._public[self.rng.randrange(len(self._public))] for _ in range(3)]
        for token_id in candidates:
            if self.listings[token_id].seller != buyer:
                return token_id
        return None

    def list_ticket(
        self, at: float, token_id: int, seller: str, price: Decimal, *, public: bool = True
    ) -> bool:
        if self.owner.get(token_id) != seller or token_id in self.listings:
            return False
        price = max(Decimal("1.00"), price.quantize(Decimal("0.01")))
        self.listings[token_id] = Listing(token_id, seller, price, public)
        if public:
            self._public_pos[token_id] = len(self._public)
            self._public.append(token_id)
        self.ops.append(ChainOp(at, "list_for", (token_id, usd_to_wei(price))))
        self.listing_ops += 1
        return True

    def delist_ticket(self, at: float, token_id: int, seller: str) -> None:
        listing = self.listings.get(token_id)
        if listing is None or listing.seller != seller or self.owner.get(token_id) != seller:
            return
        self._unlist(token_id)
        self.ops.append(ChainOp(at, "delist_for", (token_id,)))
        self.listing_ops += 1

    def _unlist(self, token_id: int) -> None:
        listing = self.listings.pop(token_id)
        if listing.public:
            pos = self._public_pos.pop(token_id)
            last = self._public.pop()
            if last != token_id:
                self._public[pos] = last
                self._public_pos[last] = pos

    # ================================================================== legitimate behaviour
    def _episode_size(self, user: User) -> int:
        rng = self.rng
        if user.kind == "power":
            return rng.randint(2, 8)
        if user.kind == "reseller":
            return rng.randint(2, 6)
        return rng.choice((1, 1, 2, 2, 2, 3, 4))

    def legit_episode(self, at: float, user: User, n: int) -> None:
        rng = self.rng
        ip = self._legit_ip(user, at)
        wallet = rng.choice(user.wallets)
        instrument = self._instrument(user)
        resale = bool(self._public) and rng.random() < 0.22
        event = self._pick_event()
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
            self._session(user, ip, at, times[half - 1] + rng.uniform(5, 30), login=rng.random() < 0.7)
            self._session(
                user,
                switched,
                times[half] - rng.uniform(5, 20),
                times[-1] + rng.uniform(60, 900),
                login=False,
            )
        else:
            self._session(user, ip, at, times[-1] + rng.uniform(60, 900), login=rng.random() < 0.7)
        for t, ip in zip(times, ips, strict=True):
            if resale:
                self._push(t, self._legit_resale_step, user, wallet, instrument, ip)
            else:
                self._push(t, self._legit_primary_step, user, wallet, event, instrument, ip)

    def _legit_primary_step(
        self, at: float, user: User, wallet: str, event: Event | None, instrument: tuple[str, str], ip: str
    ) -> None:
        self.buy_primary(at, user, wallet, event, instrument, ip, LEGIT, then=self._maybe_resell)

    def _legit_resale_step(
        self, at: float, user: User, wallet: str, instrument: tuple[str, str], ip: str
    ) -> None:
        if self.buy_resale(at, user, wallet, None, instrument, ip, LEGIT) is None:
            self.buy_primary(at, user, wallet, None, instrument, ip, LEGIT, then=self._maybe_resell)

    def _maybe_resell(self, at: float, token_id: int, order: Order) -> None:
        rng = self.rng
        if order.user.kind == "reseller" and rng.random() < 0.7:
            # Honest resellers: fast resale at a markup (what scalpers do, at a human scale).
            when, markup = at + rng.uniform(1, 48) * HOUR, rng.uniform(1.1, 1.6)
        elif rng.random() < 0.15:
            when, markup = at + rng.uniform(2, 120) * HOUR, rng.uniform(0.75, 1.3)  # can't go after all
        else:
            return
        self._push(
            when, self._list_step, token_id, order.wallet, order.price * Decimal(str(round(markup, 3)))
        )

    def _list_step(self, at: float, token_id: int, seller: str, price: Decimal) -> None:
        if self.list_ticket(at, token_id, seller, price) and self.rng.random() < 0.12:
            self._push(at + self.rng.uniform(2, 72) * HOUR, self._delist_step, token_id, seller)

    def _delist_step(self, at: float, token_id: int, seller: str) -> None:
        self.delist_ticket(at, token_id, seller)

    def browse(self, at: float, user: User) -> None:
        if at < user.created_at:
            return
        self._session(
            user, self._legit_ip(user, at), at, at + self.rng.uniform(30, 1800), login=self.rng.random() < 0.6
        )

    # ================================================================== fraud scenarios
    def scalper_burst(self, at: float, n_orders: int) -> None:
        """New accounts and wallets, minutes old, buying a hot event's tickets in a burst from hosting
        IPs; each ticket is listed again within hours at 1.5-3x face value."""
        rng = self.rng
        event = self._pick_event(hot=True)
        country = rng.choice(HOSTING_COUNTRIES)
        network = rng.randrange(6)
        shared_cards = [("card", "card_" + self._hex(8)) for _ in range(rng.randint(1, 3))]
        remaining = n_orders
        while remaining > 0:
            bot = self._new_user(
                "bot", at - rng.uniform(5 * MINUTE, 36 * HOUR), country=rng.choice(HOSTING_COUNTRIES)
            )
            bot.instruments = [rng.choice(shared_cards)] if rng.random() < 0.6 else bot.instruments
            ip = random_ip(rng, country, network)
            k = min(remaining, rng.randint(3, 8))
            remaining -= k
            start = at + rng.uniform(0, 120)
            times = [start + i * rng.uniform(2, 15) for i in range(k)]
            self._session(bot, ip, start - 20, times[-1] + 30)
            for t in times:
                self._push(t, self._scalper_step, bot, event, ip)

    def _scalper_step(self, at: float, bot: User, event: Event | None, ip: str) -> None:
        self.buy_primary(
            at, bot, bot.wallets[0], event, bot.instruments[0], ip, "scalper_bot", then=self._scalper_relist
        )

    def _scalper_relist(self, at: float, token_id: int, order: Order) -> None:
        markup = Decimal(str(round(self.rng.uniform(1.5, 3.0), 3)))
        self._push(
            at + self.rng.uniform(0.3, 12) * HOUR,
            self._list_step_no_delist,
            token_id,
            order.wallet,
            order.price * markup,
        )

    def _list_step_no_delist(self, at: float, token_id: int, seller: str, price: Decimal) -> None:
        self.list_ticket(at, token_id, seller, price)

    def stolen_cards(self, at: float, n_orders: int) -> None:
        """One fresh account cycling through stolen cards, each attempt from another country
        (proxies): impossible travel, many instruments, expensive tickets, declines."""
        rng = self.rng
        user = self._new_user(
            "fraudster", at - rng.uniform(0.2, 72) * HOUR, country=rng.choice(RISKY_COUNTRIES)
        )
        wallet = user.wallets[0]
        t = at
        country = user.country
        for _ in range(n_orders):
            card = ("card", "card_" + self._hex(8))
            user.instruments.append(card)
            country = far_country(rng, country, min_km=2500)
            ip = random_ip(rng, country)
            self._session(user, ip, t - 30, t + 90)
            resale = bool(self._public) and rng.random() < 0.3
            self._push(t, self._stolen_step, user, wallet, card, ip, resale)
            t += rng.uniform(4, 40) * MINUTE

    def _stolen_step(
        self, at: float, user: User, wallet: str, card: tuple[str, str], ip: str, resale: bool
    ) -> None:
        if not resale or self.buy_resale(at, user, wallet, None, card, ip, "stolen_card") is None:
            self.buy_primary(at, user, wallet, None, card, ip, "stolen_card")

    def wash_ring(self, at: float, n_orders: int) -> None:
        """A clique of 3-5 wallets passing tickets around at rising prices (hours apart), paying in
        crypto, from neighbouring addresses: it inflates prices and the tickets' trading history."""
        rng = self.rng
        country = rng.choice(list(HOME_COUNTRY_WEIGHTS))
        network = rng.randrange(6)
        members = [
            self._new_user("ring", at - rng.uniform(3, 60) * DAY, country=country)
            for _ in range(rng.randint(3, 5))
        ]
        for member in members:
            member.home_ips = [random_ip(rng, country, network)]
        n_tickets = 1 if n_orders < 8 else 2
        budget = [n_orders // n_tickets + (i < n_orders % n_tickets) for i in range(n_tickets)]
        for i, hops in enumerate(budget):
            buyer = members[i % len(members)]
            t = at + rng.uniform(0, 2) * HOUR
            self._session(buyer, buyer.home_ips[0], t - 60, t + 300)
            self._push(t, self._wash_first_buy, members, i % len(members), hops - 1)

    def _wash_first_buy(self, at: float, members: list[User], holder_idx: int, hops: int) -> None:
        holder = members[holder_idx]
        event = self._pick_event()
        order = self.buy_primary(
            at, holder, holder.wallets[0], event, holder.instruments[0], holder.home_ips[0], "wash_trading"
        )
        if order is not None and order.status != "failed" and hops > 0:
            self._push(
                at + self.rng.uniform(1, 10) * HOUR,
                self._wash_hop,
                members,
                holder_idx,
                order.ticket_id,
                order.price,
                hops,
            )

    def _wash_hop(
        self, at: float, members: list[User], holder_idx: int, token_id: int, price: Decimal, hops: int
    ) -> None:
        rng = self.rng
        holder = members[holder_idx]
        new_price = price * Decimal(str(round(rng.uniform(1.08, 1.3), 3)))
        if not self.list_ticket(at, token_id, holder.wallets[0], new_price, public=False):
            return
        nxt = (holder_idx + rng.randint(1, len(members) - 1)) % len(members)
        buyer = members[nxt]
        t = at + rng.uniform(2, 60) * MINUTE * self._pace
        self._session(buyer, buyer.home_ips[0], t - 60, t + 120)
        self._push(t, self._wash_buy, members, nxt, token_id, hops)

    def _wash_buy(self, at: float, members: list[User], buyer_idx: int, token_id: int, hops: int) -> None:
        buyer = members[buyer_idx]
        order = self.buy_resale(
            at, buyer, buyer.wallets[0], token_id, buyer.instruments[0], buyer.home_ips[0], "wash_trading"
        )
        if order is not None and hops > 1:
            self._push(
                at + self.rng.uniform(1, 12) * HOUR,
                self._wash_hop,
                members,
                buyer_idx,
                token_id,
                order.price,
                hops - 1,
            )

    def account_takeover(self, at: float, n_orders: int) -> None:
        """A known customer's account, suddenly used from far away after a run of failed
        passwords, buying the most expensive things on offer. Most takeovers come from credentials
        or session cookies stolen while the customer was using the account (phishing, infostealers),
        and the attacker uses them within hours: then the far-away request closely follows the
        customer's own last purchase from home."""
        rng = self.rng
        victim = self._recently_active_victim(at) if rng.random() < 0.65 else None
        if victim is None:
            victims = [u for u in self._regulars if u.created_at < self.start - 30 * DAY]
            victim = rng.choice(victims or self._regulars)
        country = (
            far_country(rng, victim.country, min_km=4000, pool=RISKY_COUNTRIES)
            if rng.random() < 0.7
            else far_country(rng, victim.country)
        )
        ip = random_ip(rng, country)
        for i in range(rng.randint(2, 8)):
            self._login(
                victim,
                victim.email,
                ip,
                at - 600 + i * rng.uniform(5, 40),
                success=False,
                reason="bad_password",
            )
        instrument = victim.instruments[0] if rng.random() < 0.7 else ("card", "card_" + self._hex(8))
        if instrument not in victim.instruments:
            victim.instruments.append(instrument)
        wallet = victim.wallets[0]
        times = [at + rng.uniform(60, 300)]
        for _ in range(n_orders - 1):
            times.append(times[-1] + rng.uniform(20, 200))
        self._session(victim, ip, at, times[-1] + 120, agent=rng.choice(_BOT_AGENTS[:2]))
        for t in times:
            self._push(t, self._ato_step, victim, wallet, instrument, ip)

    def _recently_active_victim(self, at: float) -> User | None:
        """An old account that bought something 10 minutes to 4 hours before `at`."""
        times = self._recent_buyer_times
        lo, hi = _bisect(times, at - 4 * HOUR), _bisect(times, at - 10 * MINUTE)
        candidates = [
            u
            for u in self._recent_buyers[lo:hi]
            if u.created_at < self.start - 30 * DAY and u.kind in {"regular", "power", "reseller"}
        ]
        return self.rng.choice(candidates) if candidates else None

    def _ato_step(self, at: float, user: User, wallet: str, instrument: tuple[str, str], ip: str) -> None:
        if self.buy_resale(at, user, wallet, None, instrument, ip, "account_takeover") is None:
            self.buy_primary(at, user, wallet, None, instrument, ip, "account_takeover")

    # ================================================================== security noise
    def admin_activity(self) -> None:
        rng = self.rng
        admins = [u for u in self.users if u.kind == "admin"]
        office = [random_ip(rng, "GB", 1), random_ip(rng, "NL", 0)]
        days = max(1, math.ceil((self.end - self.start) / DAY))
        for _ in range(12 * days):
            admin = rng.choice(admins)
            t = self._time_in_window()
            if rng.random() < 0.1:
                self._login(
                    admin,
                    admin.email,
                    rng.choice(office),
                    t - 30,
                    success=False,
                    reason="bad_mfa",
                    admin=True,
                )
            self._login(admin, admin.email, rng.choice(office), t, success=True, reason=None, admin=True)
        for _ in range(max(1, round(days / 2))):
            # Someone with an admin's password but not the second factor, hammering MFA.
            admin = rng.choice(admins)
            ip = random_ip(rng, rng.choice(RISKY_COUNTRIES))
            t = self._time_in_window(hi=self.end - 600)
            for _ in range(rng.randint(6, 15)):
                t += rng.uniform(3, 20)
                self._login(admin, admin.email, ip, t, success=False, reason="bad_mfa", admin=True)

    def credential_stuffing(self, n_attempts: int) -> None:
        rng = self.rng
        while n_attempts > 0:
            ip = random_ip(rng, rng.choice(HOSTING_COUNTRIES + RISKY_COUNTRIES))
            t = self._time_in_window(hi=self.end - 900)
            burst = min(n_attempts, rng.randint(5, 30))
            n_attempts -= burst
            for _ in range(burst):
                t += rng.uniform(0.5, 8)
                if rng.random() < 0.8:
                    email = f"{rng.choice(_FIRST)}{rng.randrange(10_000)}@{rng.choice(_DOMAINS)}"
                    self._login(None, email, ip, t, success=False, reason="unknown_user")
                else:
                    victim = rng.choice(self._regulars)
                    self._login(victim, victim.email, ip, t, success=False, reason="bad_password")

    # ================================================================== the run
    def run(self) -> None:
        rng, cfg = self.rng, self.config
        total_orders = max(1, round(cfg.orders_per_day * cfg.days))
        fraud_target = total_orders * cfg.fraud_rate
        # Each scenario is present (at least one episode) even in a tiny world.
        per_scenario = {
            s: max(1 if cfg.fraud_rate > 0 else 0, round(fraud_target * share))
            for s, share in SCENARIO_SHARES.items()
        }
        legit_target = total_orders - sum(per_scenario.values())
        self.build_population(max(60, round(legit_target * 0.32)))
        self.build_events(primary_demand=round(total_orders * 0.85))

        # Legitimate shopping sessions, planned until they add up to the legitimate orders wanted,
        # and browsing-only sessions.
        cum = list(_accumulate(self._weights))
        planned = n_episodes = 0
        while planned < legit_target:
            user = self._regulars[min(len(cum) - 1, _bisect(cum, rng.random() * cum[-1]))]
            n = min(self._episode_size(user), legit_target - planned)
            self._push(self._time_in_window(lo=max(self.start, user.created_at)), self.legit_episode, user, n)
            planned += n
            n_episodes += 1
        for _ in range(round(n_episodes * BROWSE_PER_EPISODE)):
            user = self._regulars[min(len(cum) - 1, _bisect(cum, rng.random() * cum[-1]))]
            self._push(self._time_in_window(lo=max(self.start, user.created_at)), self.browse, user)

        # Fraud: episodes sized to reach each scenario's share, spread over the whole window (a
        # training window after a warm-up must see every scenario). Scalpers and wash rings need time
        # after their first purchases (relisting, hops), so they start in the first 85% of the window.
        late = self.start + 0.85 * (self.end - self.start)
        for scenario, target in per_scenario.items():
            remaining = target
            while remaining > 0:
                if scenario == "scalper_bot":
                    n = min(remaining, rng.randint(12, 40))
                    self._push(self._time_in_window(hi=late), self.scalper_burst, n)
                elif scenario == "stolen_card":
                    n = min(remaining, rng.randint(3, 8))
                    self._push(self._time_in_window(), self.stolen_cards, n)
                elif scenario == "wash_trading":
                    n = max(3, min(remaining, rng.randint(4, 12)))
                    self._push(self._time_in_window(hi=late), self.wash_ring, n)
                else:
                    n = min(remaining, rng.randint(2, 5))
                    self._push(
                        self._time_in_window(lo=self.start + 0.2 * (self.end - self.start)),
                        self.account_takeover,
                        n,
                    )
                remaining -= n

        self.admin_activity()
        self.credential_stuffing(round(n_episodes * 0.05))

        while self._heap:
            at, _, action, args = heapq.heappop(self._heap)
            action(at, *args)

        self.ops.sort(key=lambda op: op.at)  # stable: ties keep the order they happened in


def _accumulate(weights: list[float]) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def _bisect(cumulative: list[float], value: float) -> int:
    lo, hi = 0, len(cumulative)
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative[mid] <= value:
            lo = mid + 1
        else:
            hi = mid
    return lo


# scenario -> [(label source, probability, delay range in days)]
LABEL_SOURCES: dict[str, list[tuple[str, float, tuple[float, float]]]] = {
    "scalper_bot": [("investigation", 0.6, (1, 10)), ("ban", 0.4, (0.2, 3))],
    "stolen_card": [("chargeback", 0.8, (3, 25)), ("customer_report", 0.2, (0.5, 6))],
    "wash_trading": [("investigation", 0.7, (2, 14)), ("ban", 0.3, (0.5, 5))],
    "account_takeover": [("customer_report", 0.6, (0.3, 5)), ("chargeback", 0.4, (4, 30))],
}


@dataclass
class Labels:
    rows: list[tuple[str, bool, str, float]]  # transaction_id, is_fraud, source, labelled_at
    pending: int  # would be labelled, but after the end of the window (not known yet)
    never: int  # fraud that nobody will ever label


def finalize(world: World) -> Labels:
    """Refunds and chargebacks that happened before the end, and the labels known at the end:
    delayed (by source) and noisy (some fraud never labelled or cleared by mistake, some
    legitimate orders labelled fraud: friendly fraud)."""
    rng, cfg, end = world.rng, world.config, world.end
    rows: list[tuple[str, bool, str, float]] = []
    pending = never = 0
    for order in world.orders:
        if order.scenario == LEGIT and order.status == "refunded":
            refunded_at = order.created_at + rng.uniform(0.5, 10) * DAY
            if refunded_at > end:
                order.status = "completed"
            else:
                order.updated_at = round(refunded_at, 3)
        label: tuple[bool, str, float] | None = None
        if order.scenario != LEGIT:
            if rng.random() < cfg.fraud_never_labelled:
                never += 1
                continue
            choices = LABEL_SOURCES[order.scenario]
            source, _, (lo, hi) = rng.choices(choices, weights=[c[1] for c in choices])[0]
            if order.status == "failed" and source == "chargeback":
                source = "investigation"  # no money moved, so no chargeback
            label = (rng.random() >= cfg.fraud_mislabelled, source, rng.uniform(lo, hi))
        else:
            r = rng.random()
            if r < cfg.legit_mislabelled and order.status == "completed":
                label = (True, "chargeback", rng.uniform(5, 30))
            elif r < cfg.legit_mislabelled + cfg.legit_reviewed:
                label = (False, "review", rng.uniform(0.05, 3))
        if label is None:
            continue
        is_fraud, source, delay_days = label
        labelled_at = round(order.created_at + delay_days * DAY, 3)
        if labelled_at > end:
            pending += 1
            continue
        rows.append((order.transaction_id, is_fraud, source, labelled_at))
        if source == "chargeback" and order.status in {"completed", "refunded"}:
            order.status = "charged_back"
            order.updated_at = labelled_at
    return Labels(rows, pending, never)

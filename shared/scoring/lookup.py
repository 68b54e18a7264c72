"""Admission: what is known about a purchase before it is scored, and whether it may be.

One Redis round trip reads the cached wallet->user link and the blocklist verdicts for the wallet and
the IP (one MGET), with the purchase's feature read queued on the same trip (shared.cache.roundtrip);
one PostgreSQL query (`intel.admission_lookup`, migration 0711: a function, so that PostgreSQL keeps its
plan) answers a stored prediction for this transaction_id (idempotency) and whatever the cache missed,
with the purchase's signals query pipelined beside it, and its facts query too when
the feature read missed (one round trip for all; a replay or a rate-limited request pays them and does
not use them, one the cache already knows is blocklisted does not send them); the cache fill, and for
a purchase to score a feature miss's guarded write-back, ride on the rate-limit script's round trip
(so a rate-limited purchase that missed leaves its facts cached). A new blocklist entry applies within
the cache's 30 s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import redis
from psycopg_pool import ConnectionPool

from shared.cache import keys
from shared.cache.roundtrip import RoundTrip
from shared.errors import RateLimited, TicketGuardError
from shared.features.realtime import PrefetchedRead, ScoringContext
from shared.ratelimit import RateLimiter
from shared.ratelimit.limiter import PREDICT_ROUTE, LimitDecision
from shared.scoring import telemetry
from shared.scoring.ports import FeatureStore
from shared.scoring.session import Attempt
from shared.scoring.types import PredictRequest, Reason


@dataclass
class Lookup:
    existing: dict[str, Any] | None
    user_id: int | None
    wallet_blocked: bool
    ip_blocked: bool

    @property
    def blocked_by(self) -> Reason | None:
        if self.wallet_blocked:
            return Reason.BLOCKLIST_WALLET
        return Reason.BLOCKLIST_IP if self.ip_blocked else None


UNKNOWN = Lookup(existing=None, user_id=None, wallet_blocked=False, ip_blocked=False)


@dataclass
class Prefetch:
    """The purchase's feature context, built up front so its read can share the cache read's round
    trip; `handle` is the queued read (None: not queued, or Redis did not answer)."""

    context: ScoringContext
    handle: PrefetchedRead | None = None
    # The purchase's signals, read on the lookup's round trip (None: not read there).
    signals: dict[str, float | None] | None = None


@dataclass
class Admission:
    """What admission found, and the purchase to score (None: a replay or a blocklisted purchase)."""

    found: Lookup
    purchase: Prefetch | None


def admit(attempt: Attempt, pool: ConnectionPool, features: FeatureStore, limiter: RateLimiter) -> Admission:
    """The lookup, the cache fill and the limits (RateLimited when one is full); then, for a purchase
    to score, its feature context (ValidationFailed for one the feature layer refuses: after the
    replay, blocklist and limit checks, as a request it refuses is still counted and answered)."""
    request, ip = attempt.request, attempt.ip
    prefetch = _prefetch(attempt, features)
    queue_more = None if prefetch is None else partial(_queue_prefetch, prefetch, features)
    cached = read_cache(attempt, queue_more)
    # A purchase the cache already knows is blocklisted is answered without its signals: a blocked
    # wallet or IP that keeps trying costs the lookup only, not the signals' recursive query too.
    along = (
        None if prefetch is None or _blocked_in_cache(cached) else partial(_sent_along, prefetch, features)
    )
    found = lookup(pool, attempt, cached, along)
    fill = cache_fill(request.wallet_address, ip, cached, found)
    if found.existing is not None or found.blocked_by is not None:
        enforce_limits(limiter, attempt, found, fill)
        return Admission(found, None)
    # A purchase to score: a feature miss's write-back rides on the limits' round trip too.
    write_back = None if prefetch is None else partial(features.queue_write_back, prefetch.handle)
    enforce_limits(limiter, attempt, found, _together(fill, write_back))
    return Admission(found, prefetch or Prefetch(features.context(request, ip, attempt.now)))


def _prefetch(attempt: Attempt, features: FeatureStore) -> Prefetch | None:
    """A read only: wasted, harmlessly, on a replay, a blocked or a rate-limited request. A context the
    feature layer refuses is left to be refused where it always was, after those checks."""
    try:
        return Prefetch(features.context(attempt.request, attempt.ip, attempt.now))
    except TicketGuardError:
        return None


def _blocked_in_cache(cached: dict[str, str | None]) -> bool:
    """The cached blocklist verdicts (read_cache's "1") already block this purchase."""
    return "1" in (cached["wallet_bl"], cached["ip_bl"])


def _sent_along(prefetch: Prefetch, features: FeatureStore, conn: Any) -> Callable[[], None]:
    """Send the purchase's signals query on `conn` (in the lookup's pipeline), and its facts query when
    the prefetched feature read missed; the function returned reads their rows once the pipeline is
    synced."""
    statement, params = features.signals_statement(prefetch.context)
    cursor = conn.execute(statement, params)
    facts = features.facts_statement(prefetch.handle)
    facts_cursor = None if facts is None else conn.execute(*facts)

    def read() -> None:
        row = cursor.fetchone()
        assert row is not None  # a SELECT without FROM: always one row
        prefetch.signals = features.signals_from_row(prefetch.context, row)
        if facts_cursor is not None and prefetch.handle is not None:
            facts_row = facts_cursor.fetchone()
            assert facts_row is not None  # FROM snapshot: an aggregate, always one row
            features.keep_facts(prefetch.handle, facts_row)

    return read


def _together(*queues: Callable[[RoundTrip], object] | None) -> Callable[[RoundTrip], None] | None:
    """The queues given, one after another, on one round trip (None: none given)."""
    given = [queue for queue in queues if queue is not None]
    if not given:
        return None

    def queue(trip: RoundTrip) -> None:
        for one in given:
            one(trip)

    return queue


def _queue_prefetch(prefetch: Prefetch, features: FeatureStore, trip: RoundTrip) -> None:
    prefetch.handle = features.queue_read(prefetch.context, trip)


def cache_keys(wallet: str, ip: str | None) -> list[str]:
    return [keys.WALLET_USER.key(wallet), keys.BLOCKLIST_WALLET.key(wallet), keys.BLOCKLIST_IP.key(ip or "-")]


def _decoded(values: Any) -> list[str | None]:
    return [value.decode() if isinstance(value, bytes) else value for value in values]


def read_cache(
    attempt: Attempt, queue_more: Callable[[RoundTrip], object] | None = None
) -> dict[str, str | None]:
    """The cached lookups (one MGET); `queue_more` adds the caller's reads to the same round trip
    (their replies reach the handles it keeps, an exception reply left for their reader to handle)."""
    names = cache_keys(attempt.request.wallet_address, attempt.ip)

    def read(client: redis.Redis) -> list[str | None]:
        trip = RoundTrip(client)
        cached = trip.queue(lambda pipe: pipe.mget(names), parse=_decoded)
        if queue_more is not None:
            queue_more(trip)
        trip.execute()
        return cached.result()

    values = attempt.session.run(read) or [None, None, None]
    return {"user": values[0], "wallet_bl": values[1], "ip_bl": values[2]}


# One row (migration 0711): the stored prediction of this transaction and what the cache missed, each a
# function argument saying whether to look; a function, so that PostgreSQL keeps its plan.
LOOKUP_SQL = """
SELECT existing, user_id, wallet_blocked, ip_blocked
  FROM intel.admission_lookup(%(txn)s::text, %(wallet)s::text, %(ip)s::inet,
                              %(need_user)s, %(need_wallet_bl)s, %(need_ip_bl)s)
"""


def lookup(
    pool: ConnectionPool,
    attempt: Attempt,
    cached: dict[str, str | None],
    along: Callable[[Any], Callable[[], None]] | None = None,
) -> Lookup:
    """The lookup query; `along` sends another statement on the same connection, pipelined with it
    (one round trip for both: the purchase's signals), and gives back what reads its answer."""
    request, ip = attempt.request, attempt.ip
    need_user = cached["user"] is None
    need_wallet_bl = cached["wallet_bl"] is None
    need_ip_bl = ip is not None and cached["ip_bl"] is None
    params = {
        "txn": request.transaction_id,
        "wallet": request.wallet_address,
        "ip": ip,
        "need_user": need_user,
        "need_wallet_bl": need_wallet_bl,
        "need_ip_bl": need_ip_bl,
    }
    with pool.connection(timeout=attempt.budget.pool_timeout("the lookup")) as conn:
        with conn.pipeline() if along is not None else contextlib.nullcontext():
            cursor = conn.execute(LOOKUP_SQL, params)
            read_along = along(conn) if along is not None else None
        row = cursor.fetchone()
        if read_along is not None:
            read_along()
    assert row is not None
    existing, user_id, wallet_blocked, ip_blocked = row
    if not need_user:
        user_id = int(cached["user"]) if cached["user"] else None
    if not need_wallet_bl:
        wallet_blocked = cached["wallet_bl"] == "1"
    if not need_ip_bl:
        ip_blocked = cached["ip_bl"] == "1"
    return Lookup(existing, user_id, bool(wallet_blocked), bool(ip_blocked))


def cache_fill(
    wallet: str, ip: str | None, cached: dict[str, str | None], found: Lookup
) -> Callable[[RoundTrip], None] | None:
    """The cache writes the lookup calls for, to queue on a round trip (sent together with the
    rate-limit script); None when the cache had everything."""
    user_key, wallet_key, ip_key = cache_keys(wallet, ip)
    writes: list[tuple[str, int, str]] = []
    if cached["user"] is None:
        # "" = "no user linked yet"; cached too, so unknown wallets cost no query for a while
        writes.append((user_key, keys.WALLET_USER_CACHE_TTL_S, str(found.user_id or "")))
    if cached["wallet_bl"] is None:
        writes.append((wallet_key, keys.BLOCKLIST_CACHE_TTL_S, "1" if found.wallet_blocked else "0"))
    if ip is not None and cached["ip_bl"] is None:
        writes.append((ip_key, keys.BLOCKLIST_CACHE_TTL_S, "1" if found.ip_blocked else "0"))
    if not writes:
        return None

    def queue(trip: RoundTrip) -> None:
        for key, ttl, value in writes:
            trip.write(partial(_setex, key=key, ttl=ttl, value=value))

    return queue


def _setex(pipe: Any, *, key: str, ttl: int, value: str) -> None:
    pipe.setex(key, ttl, value)


def enforce_limits(
    limiter: RateLimiter, attempt: Attempt, found: Lookup, fill: Callable[[RoundTrip], None] | None
) -> None:
    """The application limits, in Redis (one Lua call sharing the cache fill's round trip) or, when
    Redis is unavailable, in this process's windows. A retry of a stored transaction counts against
    the IP limit only: it is not a new purchase attempt of the wallet or its user."""
    request, session = attempt.request, attempt.session
    user, wallet = _limited_subjects(request, found)

    def hit(client: redis.Redis | None) -> LimitDecision:
        along = None
        if client is not None and fill is not None:
            along = RoundTrip(client)
            fill(along)
        return limiter.hit(client, PREDICT_ROUTE, ip=attempt.ip, user=user, wallet=wallet, along=along)

    decision: LimitDecision | None = session.run(hit)
    if decision is None:  # Redis off or failing: never no limits at all
        decision = hit(None)
    if not limiter.enabled:
        session.limits = "off"
    elif decision.approximate:  # the limiter counted it (RateLimitFallback)
        session.limits = "approximate"
    if not decision.allowed:
        telemetry.record_count("RateLimited")
        raise RateLimited(
            f"rate limit '{decision.rule}' exceeded; retry after {decision.retry_after_s} s",
            retry_after_s=decision.retry_after_s,
        )


def _limited_subjects(request: PredictRequest, found: Lookup) -> tuple[str | None, str | None]:
    """The user and the wallet the limits count (none for a replay)."""
    if found.existing is not None:
        return None, None
    # The marketplace's user id when it sends one, else the wallet's account as the service knows it.
    return request.user_id or (str(found.user_id) if found.user_id else None), request.wallet_address

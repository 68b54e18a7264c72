"""Real-time features for the scoring path (brief interface 4): the read path over the two online
feature stores (shared.features.redis_store, shared.features.postgres_store).

Read path, cheapest first:
  1. Redis, one round trip (a read-only Lua script): the ticket, wallet, event and user-location
     hashes, the wallet's 1-hour purchase window (a sorted set) and the snapshot generation. The
     scoring request queues it on its first round trip (`queue_read`) instead.
  2. On any miss: one SQL query gathers everything from PostgreSQL, and the answer is written back
     to Redis (entity hashes with Settings.feature_cache_ttl_seconds, the window and the location
     without a fixed lifetime beyond what they cover), unless a batch snapshot was published since
     the read (redis_store explains the guard). The scoring request sends the query beside its
     lookup (`facts_statement`, `keep_facts`) and queues the write-back on its rate-limit round trip
     (`queue_write_back`): a miss costs it no round trip of its own.
  3. Redis unreachable: the same SQL query, `degraded=True`. PostgreSQL unreachable as well (or on
     a miss): `DependencyUnavailable`.
The batch jobs invalidate the entity hashes when they rewrite the feature tables; `record_purchase`
updates the purchase window and the user's last location after each scored purchase.

Freshness (shared.features.cadence): hourly/daily features, the 7-day price reference among them,
are the snapshots the last batch runs stored; the training set gives each row the same snapshot.
Velocity, the previous location and the wallet's first purchase are exact: record_purchase adds
every scored purchase, which PostgreSQL holds too once the ETL has loaded it.

The signals beyond the ten (shared.features.signals: account age, payment-instrument velocity and
sharing, account-takeover traces, closed resale cycles) are one more PostgreSQL query per request,
exact at t, on the backend's tables as ingest writes them; they are not cached (a card run changes
them from one minute to the next).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis as redis_lib

from shared.cache.roundtrip import Reply, RoundTrip
from shared.features import formulas, postgres_store, redis_store
from shared.features.definitions import MODEL_FEATURES, SIGNAL_NAMES
from shared.features.facts import Facts, ScoringContext
from shared.features.postgres_store import facts_from_postgres, facts_from_row
from shared.features.signals import (
    SIGNALS_SQL,
    missing_signals,
    signal_values,
    signals_from_pool,
    signals_params,
)
from shared.geo import default_geolocator

__all__ = [
    "FeatureResult",
    "PrefetchedRead",
    "ScoringContext",
    "compute_realtime_features",
    "facts_statement",
    "keep_facts",
    "queue_read",
    "queue_write_back",
    "record_purchase",
]


# The features that need the ticket (its event, its mint), the buyer's account, or the buyer's IP.
TICKET_FEATURES = ("event_popularity_score", "price_deviation_ratio", "resale_time")
ACCOUNT_FEATURES = ("payment_method_diversity",)
IP_FEATURES = ("geo_velocity_flag",)


@dataclass(slots=True)
class FeatureResult:
    values: dict[str, float | None]
    degraded: bool = False
    sources: dict[str, str] = field(default_factory=dict)
    # Features missing because what they describe is not known (yet): an unknown ticket, a wallet
    # with no account, no buyer IP. The model scores them as missing values.
    unavailable: list[str] = field(default_factory=list)

    def vector(self) -> list[float | None]:
        """The values in MODEL_FEATURES order (a model takes the ones its manifest names)."""
        return [self.values[name] for name in MODEL_FEATURES]


@dataclass(slots=True)
class PrefetchedRead:
    """The feature read queued on a caller's round trip (`queue_read`), answered by its execute().
    On a miss, the caller may send the facts query beside its own statements (`facts_statement`,
    `keep_facts`: `facts`) and queue their write-back on a later round trip (`queue_write_back`:
    `written`), so that a miss costs no round trip of its own."""

    ctx: ScoringContext
    reply: Reply[redis_store.RedisRead]
    facts: Facts | None = None
    written: Reply[bool] | None = None


def queue_read(ctx: ScoringContext, trip: RoundTrip) -> PrefetchedRead:
    """Queue this purchase's feature read on `trip`, so that a caller with its own reads pays one
    round trip for both; pass what this returns to `compute_realtime_features(..., prefetched=)`
    once the trip has been executed (a failed or missing reply: the read is made again there)."""
    return PrefetchedRead(ctx, redis_store.queue_read(ctx, trip))


def facts_statement(prefetched: PrefetchedRead | None) -> tuple[str, dict[str, Any]] | None:
    """The facts query of a purchase whose prefetched read Redis answered without every fact (a miss),
    for a caller that sends it beside its own statements; None when Redis had them all or did not
    answer (compute_realtime_features then reads as it always does)."""
    read = _answered(prefetched)
    if prefetched is None or read is None or read.facts is not None:
        return None
    return postgres_store.facts_statement(prefetched.ctx)


def keep_facts(prefetched: PrefetchedRead, row: tuple[Any, ...]) -> None:
    """The row of `facts_statement`, kept for compute_realtime_features."""
    prefetched.facts = facts_from_row(row)


def queue_write_back(prefetched: PrefetchedRead | None, trip: RoundTrip) -> None:
    """Queue the guarded write-back of the facts kept by `keep_facts` on `trip` (which the caller
    executes before the features are computed); nothing for an unknown ticket, which is not cached."""
    read = _answered(prefetched)
    if prefetched is None or read is None or prefetched.facts is None or prefetched.facts.event_id is None:
        return
    prefetched.written = redis_store.queue_write_back(
        prefetched.ctx, prefetched.facts, trip, **_write_back_terms(read)
    )


def signals_statement(ctx: ScoringContext) -> tuple[str, dict[str, Any]]:
    """The signals' query of this purchase and its parameters, for a caller that sends it beside its own
    statement (one PostgreSQL round trip for both); `signals_from_row` reads its row."""
    return SIGNALS_SQL, signals_params(**_signal_inputs(ctx))


def _signal_inputs(ctx: ScoringContext) -> dict[str, Any]:
    """What the signals' query asks of a purchase, by signals_params' / signals_from_pool's names."""
    return {
        "wallet": ctx.wallet_address,
        "ticket": ctx.ticket_id,
        "at": ctx.at,
        "fingerprint": ctx.payment_fingerprint,
        "ip": ctx.client_ip,
    }


def signals_from_row(ctx: ScoringContext, row: tuple[Any, ...]) -> dict[str, float | None]:
    """The signals' values from the row of `signals_statement`."""
    return signal_values(row, ctx.at, ctx.client_ip)


def _earliest(*times: datetime | None) -> datetime | None:
    known = [at for at in times if at is not None]
    return min(known) if known else None


def _values(ctx: ScoringContext, facts: Facts) -> dict[str, float | None]:
    point = default_geolocator().locate(ctx.client_ip)
    return {
        "txn_velocity_1h": float(facts.velocity),
        "wallet_age_days": formulas.wallet_age_days(facts.first_seen_at, ctx.at),
        "avg_ticket_hold_time": facts.hold_time,
        "event_popularity_score": facts.popularity,
        "price_deviation_ratio": formulas.price_deviation_ratio(
            ctx.price_paid, facts.ref_price, facts.face_value
        ),
        "cross_event_attendance": facts.attendance,
        "geo_velocity_flag": formulas.geo_velocity_flag(
            facts.previous_location, point.lat, point.lon, ctx.at
        ),
        "payment_method_diversity": facts.payment_diversity,
        "wallet_centrality": facts.centrality,
        "resale_time": None
        if facts.minted_at is None
        else formulas.resale_time_hours(facts.minted_at, ctx.at),
    }


def _unavailable(ctx: ScoringContext, facts: Facts) -> list[str]:
    names: list[str] = []
    if facts.event_id is None:
        names += TICKET_FEATURES
    if facts.user_id is None:
        names += ACCOUNT_FEATURES
    if ctx.client_ip is None:
        names += IP_FEATURES
    return names


def _prefetched(ctx: ScoringContext, prefetched: PrefetchedRead | None) -> redis_store.RedisRead | None:
    """The prefetched read, if it is this context's and Redis answered it."""
    if prefetched is None or prefetched.ctx != ctx:
        return None
    return _answered(prefetched)


def _answered(prefetched: PrefetchedRead | None) -> redis_store.RedisRead | None:
    if prefetched is None or not prefetched.reply.ready or prefetched.reply.error is not None:
        return None
    return prefetched.reply.result()


def compute_realtime_features(
    ctx: ScoringContext,
    *,
    redis: redis_lib.Redis | None,
    pool: Any,
    prefetched: PrefetchedRead | None = None,
    signals: dict[str, float | None] | None = None,
) -> FeatureResult:
    """Every feature for one purchase being scored, keyed by MODEL_FEATURES. `prefetched`: the
    handle `queue_read` gave for this same context (its reply is used if Redis answered it);
    `signals`: this context's signals read already (`signals_statement`), else queried here; on a
    miss, the facts read beside the lookup (`keep_facts`) and their write-back's answer if queued."""
    degraded = False
    read: redis_store.RedisRead | None = None
    if redis is not None:
        try:
            read = _prefetched(ctx, prefetched) or redis_store.read(ctx, redis)
        except redis_lib.RedisError:
            degraded = True
    if read is not None and read.facts is not None:
        facts = read.facts
        sources = dict.fromkeys(MODEL_FEATURES, "redis")
    else:
        along = prefetched.facts if prefetched is not None and prefetched.ctx == ctx else None
        facts = along or facts_from_postgres(ctx, pool)
        sources = dict.fromkeys(MODEL_FEATURES, "postgres")
        # The windows in Redis also hold purchases scored but not yet loaded by the ETL.
        if read is not None and read.velocity is not None:
            facts.velocity = read.velocity
            sources["txn_velocity_1h"] = "redis"
        if read is not None and read.location_known:
            facts.previous_location = read.location
            sources["geo_velocity_flag"] = "redis"
        # An unknown ticket is not cached: it may be registered any moment, and then must be seen.
        if redis is not None and read is not None and facts.event_id is not None:
            written = prefetched.written if along is not None and prefetched is not None else None
            if not _write_back(ctx, facts, read, redis, written):
                degraded = True
    if read is not None:
        # Whichever store served the rest: a purchase scored but not yet loaded by the ETL may be
        # the wallet's first (record_purchase keeps it); the cache holds PostgreSQL's view only.
        facts.first_seen_at = _earliest(facts.first_seen_at, read.first_purchase)
    signals, missing = _signals(ctx, pool, signals)
    sources.update(dict.fromkeys(SIGNAL_NAMES, "postgres"))
    return FeatureResult(
        values=_values(ctx, facts) | signals,
        degraded=degraded,
        sources=sources,
        unavailable=_unavailable(ctx, facts) + missing,
    )


def _write_back_terms(read: redis_store.RedisRead) -> dict[str, Any]:
    """The guarded write-back's terms after `read`: the cache's lifetime, the snapshot generation it
    read (a newer one cancels the write), and whether the window and the location need seeding."""
    from shared.config import get_settings

    return {
        "ttl": get_settings().feature_cache_ttl_seconds,
        "generation": read.generation,
        "seed_velocity": read.velocity is None,
        "seed_location": not read.location_known,
    }


def _write_back(
    ctx: ScoringContext,
    facts: Facts,
    read: redis_store.RedisRead,
    redis: redis_lib.Redis,
    written: Reply[bool] | None,
) -> bool:
    """Cache what PostgreSQL answered (the guarded write-back), or take the answer of the one queued on
    an earlier round trip (`written`); False when Redis failed it."""
    try:
        if written is not None and written.ready:
            written.result()  # its exception reply raised here
        else:
            redis_store.write_back(ctx, facts, redis, **_write_back_terms(read))
    except redis_lib.RedisError:
        return False
    return True


def _signals(
    ctx: ScoringContext, pool: Any, read: dict[str, float | None] | None
) -> tuple[dict[str, float | None], list[str]]:
    """The signals beyond the ten (`read`, else one PostgreSQL query) and those of them missing."""
    signals = read if read is not None else signals_from_pool(pool, **_signal_inputs(ctx))
    account = signals["account_age_days"] is not None
    return signals, missing_signals(account, ctx.payment_fingerprint, signals)


def record_purchase(ctx: ScoringContext, redis: redis_lib.Redis | None) -> bool:
    """Add a scored purchase to the wallet's 1-hour window, move the user's last location and keep
    the wallet's first purchase.
    Returns False when Redis is absent or unavailable (the next read then reloads from PostgreSQL,
    which holds the purchase once the ETL has loaded it)."""
    if redis is None:
        return False
    point = default_geolocator().locate(ctx.client_ip)
    try:
        redis_store.record(ctx, redis, lat=point.lat, lon=point.lon, located=point.located)
    except redis_lib.RedisError:
        return False
    return True

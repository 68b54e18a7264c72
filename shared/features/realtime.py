"""Real-time features for the scoring path (brief interface 4).

Read path, cheapest first:
  1. Redis, one round trip (a read-only Lua script): the ticket, wallet, event and user-location
     hashes and the wallet's 1-hour purchase window (a sorted set).
  2. On any miss: one SQL query gathers everything from PostgreSQL, and the answer is written back
     to Redis (entity hashes with Settings.feature_cache_ttl_seconds, the window and the location
     without a fixed lifetime beyond what they cover).
  3. Redis unreachable: the same SQL query, `degraded=True`. PostgreSQL unreachable as well (or on
     a miss): `DependencyUnavailable`.
The batch jobs invalidate the entity hashes when they rewrite the feature tables; `record_purchase`
updates the purchase window and the user's last location after each scored purchase.

Freshness (shared.features.cadence): hourly/daily features, the 7-day price reference among them,
are the snapshots the last batch runs stored; the training set gives each row the same snapshot.
Velocity, the previous location and the wallet's first purchase are exact: record_purchase adds
every scored purchase, which PostgreSQL holds too once the ETL has loaded it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import redis as redis_lib
from psycopg_pool import PoolTimeout

from shared.errors import DependencyUnavailable, NotFound, ValidationFailed
from shared.features import formulas
from shared.features.cadence import DAILY, snapshot_day
from shared.features.definitions import FEATURE_NAMES
from shared.geo import default_geolocator

ENTITY_PREFIX = "tg:f:"
VELOCITY_PREFIX = "tg:rt:vel:"
LOCATION_PREFIX = "tg:rt:loc:"
FIRST_PURCHASE_PREFIX = "tg:rt:first:"  # the wallet's first scored purchase (epoch seconds)
_SEEDED = "__seeded__"  # member (score 0) marking a velocity window loaded from PostgreSQL
_WINDOW_S = formulas.VELOCITY_WINDOW.total_seconds()
_LOCATION_TTL_S = 30 * 86_400
# Long enough for the ETL to have loaded the purchase, after which PostgreSQL knows it too.
_FIRST_PURCHASE_TTL_S = 7 * 86_400


@dataclass(frozen=True, slots=True)
class ScoringContext:
    wallet_address: str
    ticket_id: int
    price_paid: float
    client_ip: str | None
    at: datetime

    def __post_init__(self) -> None:
        if self.wallet_address != self.wallet_address.lower():
            raise ValidationFailed("wallet_address must be lowercase", field="wallet_address")
        if self.at.tzinfo is None:
            raise ValidationFailed("at must be timezone-aware", field="at")
        if not math.isfinite(float(self.price_paid)) or float(self.price_paid) < 0:
            raise ValidationFailed("price_paid must be a finite number >= 0", field="price_paid")


@dataclass(slots=True)
class FeatureResult:
    values: dict[str, float | None]
    degraded: bool = False
    sources: dict[str, str] = field(default_factory=dict)

    def vector(self) -> list[float | None]:
        """The values in model order (FEATURE_NAMES)."""
        return [self.values[name] for name in FEATURE_NAMES]


@dataclass(slots=True)
class _Facts:
    """Everything the ten features need about one purchase, from either store."""

    event_id: int
    minted_at: datetime
    face_value: float | None
    popularity: float | None
    ref_price: float | None
    user_id: int | None
    first_seen_at: datetime | None
    hold_time: float | None
    attendance: float | None
    payment_diversity: float | None
    centrality: float | None
    velocity: int
    velocity_members: list[str]
    previous_location: tuple[float, float, datetime] | None


# ------------------------------------------------------------------ PostgreSQL
_FACTS_SQL = """
WITH tk AS (
    SELECT * FROM (
        SELECT ticket_id, event_id, minted_at, 0 AS preference FROM intel.tickets WHERE ticket_id = %(ticket)s
        UNION ALL
        SELECT ticket_id, event_id, minted_at, 1 FROM marketplace.tickets WHERE ticket_id = %(ticket)s
    ) candidates ORDER BY preference LIMIT 1
), wl AS (
    -- the wallet's account; the backend's own table for a wallet the ETL has not loaded yet
    SELECT user_id FROM (
        SELECT user_id, 0 AS preference FROM intel.wallets WHERE address = %(wallet)s AND user_id IS NOT NULL
        UNION ALL
        SELECT user_id, 1 FROM marketplace.wallets WHERE address = %(wallet)s
    ) candidates ORDER BY preference LIMIT 1
), snapshot AS (
    SELECT max(snapshot_day) AS day FROM intel.centrality_snapshots WHERE snapshot_day <= %(day)s
)
SELECT tk.event_id, tk.minted_at,
       coalesce((SELECT face_value FROM intel.events WHERE event_id = tk.event_id),
                (SELECT face_value FROM marketplace.events WHERE event_id = tk.event_id))::float8,
       coalesce(ef.event_popularity_score, 0.0),
       ef.ref_price_7d,
       wl.user_id,
       least(wf.first_seen_at, (SELECT min(f.occurred_at) FROM intel.transactions f
                                 WHERE f.wallet_address = %(wallet)s AND f.occurred_at < %(at)s)),
       wf.avg_ticket_hold_time,
       coalesce(wf.cross_event_attendance, 0),
       CASE WHEN wl.user_id IS NULL THEN NULL ELSE coalesce(uf.payment_method_diversity, 0) END,
       CASE WHEN snapshot.day IS NULL THEN NULL
            ELSE coalesce((SELECT pagerank FROM intel.wallet_centrality
                           WHERE address = %(wallet)s AND snapshot_day = snapshot.day), 0.0) END,
       (SELECT array_agg(v.ticket_id::text || ':' || floor(extract(epoch FROM v.occurred_at) * 1000)::bigint::text)
          FROM intel.transactions v
         WHERE v.wallet_address = %(wallet)s AND v.occurred_at > %(at)s - %(w1)s AND v.occurred_at < %(at)s),
       (SELECT count(*) FROM intel.transactions v
         WHERE v.wallet_address = %(wallet)s AND v.occurred_at > %(at)s - %(w1)s AND v.occurred_at < %(at)s),
       pl.geo_lat, pl.geo_lon, pl.occurred_at
FROM tk
CROSS JOIN snapshot
LEFT JOIN wl ON true
LEFT JOIN intel.event_features ef ON ef.event_id = tk.event_id
LEFT JOIN intel.wallet_features wf ON wf.address = %(wallet)s
LEFT JOIN intel.user_features uf ON uf.user_id = wl.user_id
LEFT JOIN LATERAL (
    SELECT geo_lat, geo_lon, occurred_at FROM intel.transactions
    WHERE user_id = wl.user_id AND occurred_at < %(at)s AND geo_lat IS NOT NULL
    ORDER BY occurred_at DESC LIMIT 1) pl ON true
"""


def _centrality_day(at: datetime) -> str:
    """The day of the centrality snapshot in force at `at`."""
    return snapshot_day(DAILY.snapshot_at(at)).isoformat()


def _facts_from_postgres(ctx: ScoringContext, pool: Any) -> _Facts:
    params = {
        "ticket": ctx.ticket_id,
        "wallet": ctx.wallet_address,
        "at": ctx.at,
        "day": _centrality_day(ctx.at),
        "w1": formulas.VELOCITY_WINDOW,
    }
    try:
        with pool.connection() as conn:
            row = conn.execute(_FACTS_SQL, params).fetchone()
    except (psycopg.OperationalError, PoolTimeout) as exc:  # includes statement timeouts
        raise DependencyUnavailable("the feature store (PostgreSQL) is unavailable") from exc
    if row is None:
        raise NotFound(f"ticket {ctx.ticket_id} is not known", field="ticket_id")
    (event_id, minted_at, face_value, popularity, ref_price, user_id, first_seen, hold, attendance,
     diversity, centrality, members, velocity, lat, lon, prev_at) = row  # fmt: skip
    return _Facts(
        event_id=event_id,
        minted_at=minted_at,
        face_value=face_value,
        popularity=popularity,
        ref_price=ref_price,
        user_id=user_id,
        first_seen_at=first_seen,
        hold_time=hold,
        attendance=None if attendance is None else float(attendance),
        payment_diversity=None if diversity is None else float(diversity),
        centrality=centrality,
        velocity=int(velocity),
        velocity_members=list(members or []),
        previous_location=(lat, lon, prev_at) if lat is not None and lon is not None else None,
    )


# ------------------------------------------------------------------ Redis
def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _opt_float(text: str | None) -> float | None:
    return None if text is None or text == "" else float(text)


def _enc(value: float | int | None) -> str:
    return "" if value is None else repr(value)


def _epoch(at: datetime) -> float:
    return at.timestamp()


def _from_epoch(text: str) -> datetime:
    return datetime.fromtimestamp(float(text), tz=UTC)


def _earliest(*times: datetime | None) -> datetime | None:
    known = [at for at in times if at is not None]
    return min(known) if known else None


@dataclass(slots=True)
class _RedisRead:
    """What Redis answered: every fact (a full hit), or the parts it had."""

    facts: _Facts | None = None
    velocity: int | None = None  # the window count, when the window is loaded
    first_purchase: datetime | None = None  # the wallet's first scored purchase before the request
    location_known: bool = False
    location: tuple[float, float, datetime] | None = None


# One round trip for every read: the ticket and wallet hashes and the velocity window, then the
# hashes whose keys those name (the ticket's event, the wallet user's last location). The second
# pair of keys is only known inside the script; fine on a non-cluster Redis (ElastiCache replication
# group, as infra/ provisions), which is what the scoring path runs against.
_READ_SCRIPT = """
local ticket = redis.call('HGETALL', KEYS[1])
local wallet = redis.call('HGETALL', KEYS[2])
local seeded = redis.call('ZSCORE', KEYS[3], ARGV[1])
local velocity = redis.call('ZCOUNT', KEYS[3], ARGV[2], ARGV[3])
local first_purchase = redis.call('GET', KEYS[4])
local event = {}
local location = {}
if #wallet > 0 then
  for i = 1, #ticket, 2 do
    if ticket[i] == 'event_id' then event = redis.call('HGETALL', ARGV[4] .. ticket[i + 1]) end
  end
  for i = 1, #wallet, 2 do
    if wallet[i] == 'user_id' and wallet[i + 1] ~= '' then
      location = redis.call('HGETALL', ARGV[5] .. wallet[i + 1])
    end
  end
end
-- One JSON string: redis-py parses a nested multi-bulk reply element by element in Python, which
-- cost more than the round trip it replaces; json.loads is one C call.
return cjson.encode({ticket, wallet, seeded, velocity, event, location, first_purchase})
"""

_RECORD_SCRIPT = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '(0', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local user_id = redis.call('HGET', KEYS[2], 'user_id')
if ARGV[5] == '1' and user_id and user_id ~= '' then
  local location_key = ARGV[6] .. user_id
  redis.call('HSET', location_key, 'lat', ARGV[7], 'lon', ARGV[8], 'at', ARGV[9])
  redis.call('EXPIRE', location_key, ARGV[10])
end
local first = redis.call('GET', KEYS[3])
if not first or tonumber(ARGV[1]) < tonumber(first) then redis.call('SET', KEYS[3], ARGV[1]) end
redis.call('EXPIRE', KEYS[3], ARGV[11])
return 1
"""

# SHA-1 because that is how Redis names scripts (EVALSHA), not for security.
_SHA = {
    text: hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    for text in (_READ_SCRIPT, _RECORD_SCRIPT)
}


def _eval(client: redis_lib.Redis, text: str, keys: list[str], args: list[Any]) -> Any:
    """EVALSHA (the SHA computed once per process); loads the script on a server without it."""
    try:
        return client.evalsha(_SHA[text], len(keys), *keys, *args)
    except redis_lib.exceptions.NoScriptError:
        client.script_load(text)
        return client.evalsha(_SHA[text], len(keys), *keys, *args)


def _pairs(flat: list[Any] | dict[str, Any]) -> dict[str, str]:
    # cjson encodes an empty Lua table (an absent hash) as {}, a non-empty one as [field, value, ...]
    if isinstance(flat, dict):
        return {}
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}


def _read_keys_args(ctx: ScoringContext) -> tuple[list[str], list[str]]:
    now = _epoch(ctx.at)
    keys = [
        f"{ENTITY_PREFIX}ticket:{ctx.ticket_id}",
        f"{ENTITY_PREFIX}wallet:{ctx.wallet_address}",
        VELOCITY_PREFIX + ctx.wallet_address,
        FIRST_PURCHASE_PREFIX + ctx.wallet_address,
    ]
    return keys, [_SEEDED, f"({now - _WINDOW_S}", f"({now}", f"{ENTITY_PREFIX}event:", LOCATION_PREFIX]


@dataclass(slots=True)
class PrefetchedRead:
    """The feature read queued on a caller's pipeline (`queue_read`), answered by its execute()."""

    ctx: ScoringContext
    reply: Any = None


def queue_read(ctx: ScoringContext, pipe: Any) -> PrefetchedRead:
    """Queue this purchase's feature read on `pipe` (a redis pipeline without transaction), so that
    a caller with its own reads pays one round trip for both. Pass the execute() reply for it to
    `compute_realtime_features(..., prefetched=PrefetchedRead(ctx, reply))`. EVALSHA directly: a
    server without the script answers NOSCRIPT and compute_realtime_features then reads itself."""
    keys, args = _read_keys_args(ctx)
    pipe.evalsha(_SHA[_READ_SCRIPT], len(keys), *keys, *args)
    return PrefetchedRead(ctx)


def _read_redis(ctx: ScoringContext, client: redis_lib.Redis, reply: Any = None) -> _RedisRead:
    """One round trip (a read-only script), or the reply of a prefetched one; raises redis errors
    for the caller to fall back on."""
    if reply is None:
        keys, args = _read_keys_args(ctx)
        reply = _eval(client, _READ_SCRIPT, keys, args)
    ticket_raw, wallet_raw, seeded, velocity, event_raw, location_raw, first_purchase = json.loads(reply)
    read = _RedisRead(velocity=int(velocity) if seeded is not False else None)
    if first_purchase is not False and (first := _from_epoch(first_purchase)) < ctx.at:
        read.first_purchase = first
    ticket, wallet = _pairs(ticket_raw), _pairs(wallet_raw)
    if wallet and wallet.get("centrality_day") != _centrality_day(ctx.at):
        wallet = {}  # cached for another day's centrality snapshot
    if not wallet:
        return read
    user_id = int(wallet["user_id"]) if wallet.get("user_id") else None
    event = _pairs(event_raw) if ticket else {}
    if user_id is None:
        read.location_known = True
    else:
        location = _pairs(location_raw)
        if location and not location.get("at"):
            read.location_known = True
        elif location and _from_epoch(location["at"]) < ctx.at:
            read.location_known = True
            read.location = (float(location["lat"]), float(location["lon"]), _from_epoch(location["at"]))
    if not ticket or not event or read.velocity is None or not read.location_known:
        return read
    first_seen = wallet.get("first_seen_at")
    read.facts = _Facts(
        event_id=int(ticket["event_id"]),
        minted_at=_from_epoch(ticket["minted_at"]),
        face_value=_opt_float(event.get("face_value")),
        popularity=_opt_float(event.get("popularity")),
        ref_price=_opt_float(event.get("ref_price")),
        user_id=user_id,
        first_seen_at=_from_epoch(first_seen) if first_seen else None,
        hold_time=_opt_float(wallet.get("hold_time")),
        attendance=_opt_float(wallet.get("attendance")),
        payment_diversity=_opt_float(wallet.get("payment_diversity")),
        centrality=_opt_float(wallet.get("centrality")),
        velocity=read.velocity,
        velocity_members=[],
        previous_location=read.location,
    )
    return read


def _write_back(
    ctx: ScoringContext,
    facts: _Facts,
    client: redis_lib.Redis,
    ttl: int,
    *,
    seed_velocity: bool,
    seed_location: bool,
) -> None:
    pipe = client.pipeline(transaction=False)
    ticket_key = f"{ENTITY_PREFIX}ticket:{ctx.ticket_id}"
    pipe.hset(ticket_key, mapping={"event_id": facts.event_id, "minted_at": _enc(_epoch(facts.minted_at))})
    pipe.expire(ticket_key, ttl)
    event_key = f"{ENTITY_PREFIX}event:{facts.event_id}"
    pipe.hset(
        event_key,
        mapping={
            "face_value": _enc(facts.face_value),
            "popularity": _enc(facts.popularity),
            "ref_price": _enc(facts.ref_price),
        },
    )
    pipe.expire(event_key, ttl)
    wallet_key = f"{ENTITY_PREFIX}wallet:{ctx.wallet_address}"
    pipe.hset(
        wallet_key,
        mapping={
            "user_id": _enc(facts.user_id),
            "first_seen_at": _enc(None if facts.first_seen_at is None else _epoch(facts.first_seen_at)),
            "hold_time": _enc(facts.hold_time),
            "attendance": _enc(facts.attendance),
            "payment_diversity": _enc(facts.payment_diversity),
            "centrality": _enc(facts.centrality),
            "centrality_day": _centrality_day(ctx.at),
        },
    )
    pipe.expire(wallet_key, ttl)
    if seed_velocity:
        velocity_key = VELOCITY_PREFIX + ctx.wallet_address
        members: dict[str, float] = {_SEEDED: 0.0}
        for member in facts.velocity_members:
            members[member] = int(member.rsplit(":", 1)[1]) / 1000.0
        pipe.zadd(velocity_key, members)
        pipe.expire(velocity_key, int(_WINDOW_S) + 60)
    if seed_location and facts.user_id is not None:
        location_key = f"{LOCATION_PREFIX}{facts.user_id}"
        previous = facts.previous_location
        pipe.delete(location_key)
        if previous is None:
            pipe.hset(location_key, mapping={"at": ""})
        else:
            pipe.hset(
                location_key, mapping={"lat": previous[0], "lon": previous[1], "at": _epoch(previous[2])}
            )
        pipe.expire(location_key, ttl)
    pipe.execute()


# ------------------------------------------------------------------ public API
def _values(ctx: ScoringContext, facts: _Facts) -> dict[str, float | None]:
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
        "resale_time": formulas.resale_time_hours(facts.minted_at, ctx.at),
    }


def compute_realtime_features(
    ctx: ScoringContext,
    *,
    redis: redis_lib.Redis | None,
    pool: Any,
    prefetched: PrefetchedRead | None = None,
) -> FeatureResult:
    """The ten features for one purchase being scored, keyed by FEATURE_NAMES. `prefetched`: the
    reply of `queue_read` for this same context (used only if it is a script reply)."""
    from shared.config import get_settings

    degraded = False
    read: _RedisRead | None = None
    reply = None
    if prefetched is not None and prefetched.ctx == ctx and isinstance(prefetched.reply, bytes | str):
        reply = prefetched.reply
    if redis is not None:
        try:
            read = _read_redis(ctx, redis, reply)
        except redis_lib.RedisError:
            degraded = True
    if read is not None and read.facts is not None:
        facts = read.facts
        sources = dict.fromkeys(FEATURE_NAMES, "redis")
    else:
        facts = _facts_from_postgres(ctx, pool)
        sources = dict.fromkeys(FEATURE_NAMES, "postgres")
        # The windows in Redis also hold purchases scored but not yet loaded by the ETL.
        if read is not None and read.velocity is not None:
            facts.velocity = read.velocity
            sources["txn_velocity_1h"] = "redis"
        if read is not None and read.location_known:
            facts.previous_location = read.location
            sources["geo_velocity_flag"] = "redis"
        if redis is not None and not degraded:
            try:
                _write_back(
                    ctx,
                    facts,
                    redis,
                    get_settings().feature_cache_ttl_seconds,
                    seed_velocity=read is None or read.velocity is None,
                    seed_location=read is None or not read.location_known,
                )
            except redis_lib.RedisError:
                degraded = True
    if read is not None:
        # Whichever store served the rest: a purchase scored but not yet loaded by the ETL may be
        # the wallet's first (record_purchase keeps it); the cache holds PostgreSQL's view only.
        facts.first_seen_at = _earliest(facts.first_seen_at, read.first_purchase)
    return FeatureResult(values=_values(ctx, facts), degraded=degraded, sources=sources)


def record_purchase(ctx: ScoringContext, redis: redis_lib.Redis | None) -> bool:
    """Add a scored purchase to the wallet's 1-hour window, move the user's last location and keep
    the wallet's first purchase.
    Returns False when Redis is absent or unavailable (the next read then reloads from PostgreSQL,
    which holds the purchase once the ETL has loaded it)."""
    if redis is None:
        return False
    now = _epoch(ctx.at)
    velocity_key = VELOCITY_PREFIX + ctx.wallet_address
    member = f"{ctx.ticket_id}:{math.floor(now * 1000)}"
    point = default_geolocator().locate(ctx.client_ip)
    try:
        # One atomic round trip: the window, then the location of the wallet's user (if linked).
        _eval(
            redis,
            _RECORD_SCRIPT,
            [
                velocity_key,
                f"{ENTITY_PREFIX}wallet:{ctx.wallet_address}",
                FIRST_PURCHASE_PREFIX + ctx.wallet_address,
            ],
            [
                repr(now),
                member,
                f"({now - _WINDOW_S}",
                int(_WINDOW_S) + 60,
                "1" if point.located else "0",
                LOCATION_PREFIX,
                repr(point.lat),
                repr(point.lon),
                repr(now),
                _LOCATION_TTL_S,
                _FIRST_PURCHASE_TTL_S,
            ],
        )
    except redis_lib.RedisError:
        return False
    return True


def invalidate_entity_cache(redis: redis_lib.Redis) -> int:
    """Drop the cached entity features (after a batch job rewrote their tables)."""
    removed = 0
    try:
        batch: list[Any] = []
        for key in redis.scan_iter(match=f"{ENTITY_PREFIX}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                removed += int(redis.unlink(*batch))
                batch = []
        if batch:
            removed += int(redis.unlink(*batch))
    except redis_lib.RedisError:
        return removed
    return removed

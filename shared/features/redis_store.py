"""The online feature store in Redis (keys: shared.cache.keys).

- Entity hashes (`tg:f:ticket:`, `tg:f:wallet:`, `tg:f:event:`): the batch snapshots' values, written
  back after a PostgreSQL read, for Settings.feature_cache_ttl_seconds.
- Real-time windows (`tg:rt:`): the wallet's 1-hour purchase window (a sorted set), the user's last
  location and the wallet's first scored purchase, kept by `record_purchase`.
- The snapshot generation (`tg:fgen`): a counter the batch feature job bumps when it publishes.

The write-back race, and its guard: a scoring request that missed the cache reads PostgreSQL and then
writes what it read back to Redis. If a batch job commits new snapshots and drops the cached entities
in between, the write-back would put the old values back for a whole TTL. So every read also returns
the generation, and the write-back is one script that writes only if the generation is still the one
read before PostgreSQL was; the batch job bumps the generation after its commit and before it drops
the cached entities (`invalidate_entity_cache`). A write-back either lands before the bump (and the
drop that follows removes it) or is refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis as redis_lib

from shared.cache import keys
from shared.cache.roundtrip import Reply, RoundTrip
from shared.cache.scripts import LuaScript
from shared.features import formulas
from shared.features.facts import Facts, ScoringContext, centrality_day

SEEDED = "__seeded__"  # member (score 0) marking a velocity window loaded from PostgreSQL
WINDOW_S = formulas.VELOCITY_WINDOW.total_seconds()
VELOCITY_TTL_S = int(WINDOW_S) + keys.VELOCITY_SLACK_S


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _opt_float(text: str | None) -> float | None:
    return None if text is None or text == "" else float(text)


def _enc(value: float | int | None) -> str:
    return "" if value is None else repr(value)


def epoch(at: datetime) -> float:
    return at.timestamp()


def _from_epoch(text: str) -> datetime:
    return datetime.fromtimestamp(float(text), tz=UTC)


@dataclass(slots=True)
class RedisRead:
    """What Redis answered: every fact (a full hit), or the parts it had."""

    facts: Facts | None = None
    velocity: int | None = None  # the window count, when the window is loaded
    first_purchase: datetime | None = None  # the wallet's first scored purchase before the request
    location_known: bool = False
    location: tuple[float, float, datetime] | None = None
    generation: str = ""  # the snapshot generation at the read ("" before the first batch publish)


# One round trip for every read: the ticket and wallet hashes and the velocity window, then the
# hashes whose keys those name (the ticket's event, the wallet user's last location), and the
# snapshot generation. The second pair of keys is only known inside the script; fine on a
# non-cluster Redis (ElastiCache replication group, as infra/ provisions), which is what the
# scoring path runs against.
READ_SCRIPT = LuaScript("""
local ticket = redis.call('HGETALL', KEYS[1])
local wallet = redis.call('HGETALL', KEYS[2])
local seeded = redis.call('ZSCORE', KEYS[3], ARGV[1])
local velocity = redis.call('ZCOUNT', KEYS[3], ARGV[2], ARGV[3])
local first_purchase = redis.call('GET', KEYS[4])
local generation = redis.call('GET', KEYS[5])
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
return cjson.encode({ticket, wallet, seeded, velocity, event, location, first_purchase, generation})
""")

# The guarded write-back. KEYS: the generation, the ticket, event and wallet hashes, then the
# velocity window and the location when they are seeded. ARGV[1]: the generation read before
# PostgreSQL was; ARGV[2]: the entity TTL; ARGV[3]: the values (JSON, every value a string).
WRITE_BACK_SCRIPT = LuaScript("""
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
local ttl = ARGV[2]
local v = cjson.decode(ARGV[3])
local entities = {v.ticket, v.event, v.wallet}
for i = 1, 3 do
  redis.call('HSET', KEYS[i + 1], unpack(entities[i]))
  redis.call('EXPIRE', KEYS[i + 1], ttl)
end
local n = 5
if v.velocity then
  for i = 1, #v.velocity, 2 do redis.call('ZADD', KEYS[n], v.velocity[i], v.velocity[i + 1]) end
  redis.call('EXPIRE', KEYS[n], v.velocity_ttl)
  n = n + 1
end
if v.location then
  redis.call('DEL', KEYS[n])
  redis.call('HSET', KEYS[n], unpack(v.location))
  redis.call('EXPIRE', KEYS[n], ttl)
end
return 1
""")

RECORD_SCRIPT = LuaScript("""
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
""")


def _pairs(flat: list[Any] | dict[str, Any]) -> dict[str, str]:
    # cjson encodes an empty Lua table (an absent hash) as {}, a non-empty one as [field, value, ...]
    if isinstance(flat, dict):
        return {}
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}


def _read_keys_args(ctx: ScoringContext) -> tuple[list[str], list[str]]:
    now = epoch(ctx.at)
    read_keys = [
        keys.FEATURE_TICKET.key(ctx.ticket_id),
        keys.FEATURE_WALLET.key(ctx.wallet_address),
        keys.VELOCITY.key(ctx.wallet_address),
        keys.FIRST_PURCHASE.key(ctx.wallet_address),
        keys.FEATURE_GENERATION,
    ]
    args = [SEEDED, f"({now - WINDOW_S}", f"({now}", keys.FEATURE_EVENT.prefix, keys.LOCATION.prefix]
    return read_keys, args


def queue_read(ctx: ScoringContext, trip: RoundTrip) -> Reply[RedisRead]:
    """This purchase's read, queued on a round trip the caller executes."""
    read_keys, args = _read_keys_args(ctx)
    return trip.eval(READ_SCRIPT, read_keys, args, parse=lambda reply: parse_read(ctx, reply))


def read(ctx: ScoringContext, client: redis_lib.Redis) -> RedisRead:
    """This purchase's read on its own (one round trip); raises redis errors for the caller."""
    read_keys, args = _read_keys_args(ctx)
    return parse_read(ctx, READ_SCRIPT.run(client, read_keys, args))


def parse_read(ctx: ScoringContext, reply: Any) -> RedisRead:
    ticket_raw, wallet_raw, seeded, velocity, event_raw, location_raw, first_purchase, generation = (
        json.loads(reply)
    )
    found = RedisRead(
        velocity=int(velocity) if seeded is not False else None,
        generation="" if generation is False else _text(generation),
    )
    if first_purchase is not False and (first := _from_epoch(first_purchase)) < ctx.at:
        found.first_purchase = first
    ticket, wallet = _pairs(ticket_raw), _pairs(wallet_raw)
    if wallet and wallet.get("centrality_day") != centrality_day(ctx.at):
        wallet = {}  # cached for another day's centrality snapshot
    if not wallet:
        return found
    user_id = int(wallet["user_id"]) if wallet.get("user_id") else None
    event = _pairs(event_raw) if ticket else {}
    if user_id is None:
        found.location_known = True
    else:
        location = _pairs(location_raw)
        if location and not location.get("at"):
            found.location_known = True
        elif location and _from_epoch(location["at"]) < ctx.at:
            found.location_known = True
            found.location = (float(location["lat"]), float(location["lon"]), _from_epoch(location["at"]))
    if not ticket or not event or found.velocity is None or not found.location_known:
        return found
    first_seen = wallet.get("first_seen_at")
    found.facts = Facts(
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
        velocity=found.velocity,
        velocity_members=[],
        previous_location=found.location,
    )
    return found


def _flat(fields: dict[str, str]) -> list[str]:
    return [part for pair in fields.items() for part in pair]


def write_back(
    ctx: ScoringContext,
    facts: Facts,
    client: redis_lib.Redis,
    ttl: int,
    *,
    generation: str,
    seed_velocity: bool,
    seed_location: bool,
) -> bool:
    """Cache what PostgreSQL answered (one round trip, atomic), unless a batch snapshot was published
    since `generation` was read: then nothing is written and the answer is False. Only for a known
    ticket (the caller does not cache an unknown one)."""
    write_keys, args = _write_back_keys_args(
        ctx, facts, ttl, generation=generation, seed_velocity=seed_velocity, seed_location=seed_location
    )
    return int(WRITE_BACK_SCRIPT.run(client, write_keys, args)) == 1


def queue_write_back(
    ctx: ScoringContext,
    facts: Facts,
    trip: RoundTrip,
    ttl: int,
    *,
    generation: str,
    seed_velocity: bool,
    seed_location: bool,
) -> Reply[bool]:
    """`write_back` queued on a round trip the caller executes (its answer, or its exception reply,
    in the Reply)."""
    write_keys, args = _write_back_keys_args(
        ctx, facts, ttl, generation=generation, seed_velocity=seed_velocity, seed_location=seed_location
    )
    return trip.eval(WRITE_BACK_SCRIPT, write_keys, args, parse=lambda written: int(written) == 1)


def _write_back_keys_args(
    ctx: ScoringContext,
    facts: Facts,
    ttl: int,
    *,
    generation: str,
    seed_velocity: bool,
    seed_location: bool,
) -> tuple[list[str], list[str]]:
    if facts.event_id is None or facts.minted_at is None:
        raise ValueError("an unknown ticket's facts are not cached")
    write_keys = [
        keys.FEATURE_GENERATION,
        keys.FEATURE_TICKET.key(ctx.ticket_id),
        keys.FEATURE_EVENT.key(facts.event_id),
        keys.FEATURE_WALLET.key(ctx.wallet_address),
    ]
    values: dict[str, Any] = {
        "ticket": _flat({"event_id": str(facts.event_id), "minted_at": _enc(epoch(facts.minted_at))}),
        "event": _flat(
            {
                "face_value": _enc(facts.face_value),
                "popularity": _enc(facts.popularity),
                "ref_price": _enc(facts.ref_price),
            }
        ),
        "wallet": _flat(
            {
                "user_id": _enc(facts.user_id),
                "first_seen_at": _enc(None if facts.first_seen_at is None else epoch(facts.first_seen_at)),
                "hold_time": _enc(facts.hold_time),
                "attendance": _enc(facts.attendance),
                "payment_diversity": _enc(facts.payment_diversity),
                "centrality": _enc(facts.centrality),
                "centrality_day": centrality_day(ctx.at),
            }
        ),
    }
    if seed_velocity:
        write_keys.append(keys.VELOCITY.key(ctx.wallet_address))
        members = [repr(0.0), SEEDED]
        for member in facts.velocity_members:
            members += [repr(int(member.rsplit(":", 1)[1]) / 1000.0), member]
        values["velocity"] = members
        values["velocity_ttl"] = str(VELOCITY_TTL_S)
    if seed_location and facts.user_id is not None:
        write_keys.append(keys.LOCATION.key(facts.user_id))
        previous = facts.previous_location
        values["location"] = (
            ["at", ""]
            if previous is None
            else ["lat", repr(previous[0]), "lon", repr(previous[1]), "at", repr(epoch(previous[2]))]
        )
    return write_keys, [generation, str(ttl), json.dumps(values)]


def record(
    ctx: ScoringContext, client: redis_lib.Redis, *, lat: float | None, lon: float | None, located: bool
) -> None:
    """One atomic round trip: the purchase into the wallet's window, the location of the wallet's user
    (if linked and the purchase was located) and the wallet's first purchase. Raises redis errors."""
    now = epoch(ctx.at)
    RECORD_SCRIPT.run(
        client,
        [
            keys.VELOCITY.key(ctx.wallet_address),
            keys.FEATURE_WALLET.key(ctx.wallet_address),
            keys.FIRST_PURCHASE.key(ctx.wallet_address),
        ],
        [
            repr(now),
            f"{ctx.ticket_id}:{math.floor(now * 1000)}",
            f"({now - WINDOW_S}",
            VELOCITY_TTL_S,
            "1" if located else "0",
            keys.LOCATION.prefix,
            repr(lat),
            repr(lon),
            repr(now),
            keys.LOCATION_TTL_S,
            keys.FIRST_PURCHASE_TTL_S,
        ],
    )


def invalidate_entity_cache(redis: redis_lib.Redis) -> int:
    """Publish a new batch snapshot to the cache: bump the snapshot generation (refusing every
    write-back of values read before), then drop the cached entity hashes. Call it after the batch
    job's commit. Returns how many keys were dropped."""
    removed = 0
    try:
        redis.incr(keys.FEATURE_GENERATION)
        batch: list[Any] = []
        for key in redis.scan_iter(match=f"{keys.FEATURE_ENTITY_PREFIX}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                removed += int(redis.unlink(*batch))
                batch = []
        if batch:
            removed += int(redis.unlink(*batch))
    except redis_lib.RedisError:
        return removed
    return removed

"""Arm statistics: durable in PostgreSQL (pricing.rewards, one row per settled event), hot in Redis.

Redis keeps, under the `{px}` hash tag (one slot on a cluster-mode Redis), a hash of each settled
event's arm and reward and a hash of each arm's count, sum and sum of squares. One Lua script records a
reward: it takes back the event's previous reward (a late chargeback or block revises it) and adds
the new one, atomically, so concurrent settlers never lose or double an update. When the hot keys are
missing (a new or flushed Redis) the next read rebuilds them from PostgreSQL; without Redis, reads
come from PostgreSQL directly.
"""

from __future__ import annotations

from typing import Any

import psycopg
import redis

from shared.cache.keys import PRICING
from shared.cache.scripts import LuaScript
from shared.pricing.arms import ARMS, Arm
from shared.pricing.policy import ArmStats

REWARDS_KEY = PRICING.key("rewards")
ARMS_KEY = PRICING.key("arms")
_READY = "ready"

_TAKE_BACK = """
local function take_back(event)
  local old = redis.call('HGET', KEYS[1], event)
  if not old then return 0 end
  local sep = string.find(old, ':', 1, true)
  local arm, reward = string.sub(old, 1, sep - 1), tonumber(string.sub(old, sep + 1))
  redis.call('HINCRBY', KEYS[2], arm .. ':n', -1)
  redis.call('HINCRBYFLOAT', KEYS[2], arm .. ':sum', -reward)
  redis.call('HINCRBYFLOAT', KEYS[2], arm .. ':sq', -reward * reward)
  return 1
end
local function add(event, arm, text)
  local reward = tonumber(text)
  redis.call('HINCRBY', KEYS[2], arm .. ':n', 1)
  redis.call('HINCRBYFLOAT', KEYS[2], arm .. ':sum', reward)
  redis.call('HINCRBYFLOAT', KEYS[2], arm .. ':sq', reward * reward)
  redis.call('HSET', KEYS[1], event, arm .. ':' .. text)
end
"""
# KEYS: rewards, arms; ARGV: event, arm, reward. Answers 1 for a revised reward, 0 for a new one;
# -1 when the hot keys are not built (the caller rebuilds them from PostgreSQL, which has the row).
RECORD = LuaScript(
    _TAKE_BACK
    + """
if redis.call('HEXISTS', KEYS[2], 'ready') == 0 then return -1 end
local revised = take_back(ARGV[1])
add(ARGV[1], ARGV[2], ARGV[3])
return revised
"""
)
# KEYS: rewards, arms; ARGV: event, arm, reward, event, arm, reward, ... (PostgreSQL's rows). Builds
# the hot keys unless another caller did first (answers 0 then).
WARM = LuaScript(
    _TAKE_BACK
    + """
if redis.call('HEXISTS', KEYS[2], 'ready') == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
for i = 1, #ARGV, 3 do add(ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
redis.call('HSET', KEYS[2], 'ready', '1')
return 1
"""
)


def _text(reward: float) -> str:
    return repr(float(reward))


def record_hot(
    client: redis.Redis, conn: psycopg.Connection[Any], event_id: int, arm: Arm, reward: float
) -> None:
    """Record a settled reward (already in pricing.rewards) in the hot statistics."""
    if RECORD.run(client, [REWARDS_KEY, ARMS_KEY], [event_id, arm, _text(reward)]) == -1:
        warm(client, conn)


def warm(client: redis.Redis, conn: psycopg.Connection[Any]) -> bool:
    """Build the hot keys from pricing.rewards (unless present); True when this call built them."""
    args: list[Any] = []
    for event_id, arm, reward in conn.execute(
        "SELECT event_id, arm, reward FROM pricing.rewards ORDER BY event_id"
    ):
        args += [event_id, arm, _text(reward)]
    return bool(WARM.run(client, [REWARDS_KEY, ARMS_KEY], args))


def durable_stats(conn: psycopg.Connection[Any]) -> dict[Arm, ArmStats]:
    rows = conn.execute(
        "SELECT arm, count(*), coalesce(sum(reward), 0), coalesce(sum(reward * reward), 0)"
        " FROM pricing.rewards GROUP BY arm"
    ).fetchall()
    found = {str(arm): ArmStats(int(n), float(total), float(squares)) for arm, n, total, squares in rows}
    return {arm: found.get(arm, ArmStats()) for arm in ARMS}


def _fields(raw: Any) -> dict[str, float]:
    return {(k.decode() if isinstance(k, bytes) else str(k)): float(v) for k, v in dict(raw).items()}


def hot_stats(client: redis.Redis, conn: psycopg.Connection[Any]) -> dict[Arm, ArmStats]:
    """The arms' statistics from Redis (built from PostgreSQL first when missing)."""
    fields = _fields(client.hgetall(ARMS_KEY))
    if _READY not in fields:
        warm(client, conn)
        fields = _fields(client.hgetall(ARMS_KEY))
    return {
        arm: ArmStats(
            round(fields.get(f"{arm}:n", 0.0)),
            fields.get(f"{arm}:sum", 0.0),
            fields.get(f"{arm}:sq", 0.0),
        )
        for arm in ARMS
    }


def drop_hot(client: redis.Redis) -> None:
    """Forget the hot keys (the next read rebuilds them from PostgreSQL)."""
    client.delete(REWARDS_KEY, ARMS_KEY)

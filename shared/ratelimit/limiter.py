"""Sliding-window rate limits, atomic in Redis through one Lua script.

Why a Lua script and not the `limits` library: a request must pass three limits at once (client IP,
user, purchase route). The script checks all of them and records the hit in all of them in one
atomic step and one round trip: a request refused by one limit is counted by none (with `limits`,
three separate `hit()` calls would cost three round trips on the hot path and count partial hits).
Each window is an exact sliding log (a sorted set of hit times, Redis server time, so the clocks of
many Lambda containers do not matter). All keys share the hash tag `{rl}` so the script also runs
on a cluster-mode Redis.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import uuid
from dataclasses import dataclass
from typing import ClassVar, Literal

import redis
from pydantic import Field

from shared.cache.keys import RATE_LIMIT
from shared.cache.roundtrip import RoundTrip, raw
from shared.cache.scripts import LuaScript
from shared.config import EnvSettings
from shared.identifiers import canonical_ip, ip_limit_subject
from shared.ratelimit.fallback import LocalWindows
from shared.ratelimit.traffic import count_refusal, count_request

Subject = Literal["ip", "user", "wallet"]

PREDICT_ROUTE = "POST /api/v1/ml/predict/fraud"

_SLIDING_LOG = LuaScript("""
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local member = now .. '-' .. ARGV[1]
local longest_wait = -1
local refused_by = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local wait = window
    if oldest[2] then wait = tonumber(oldest[2]) + window - now end
    if wait > longest_wait then
      longest_wait = wait
      refused_by = i
    end
  end
end
if refused_by > 0 then
  return {0, longest_wait, refused_by}
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
end
return {1, 0, 0}
""")


class RateLimitSettings(EnvSettings):
    """Limits per minute; TG_RATELIMIT_* in the environment (e.g. raised for a benchmark)."""

    env_prefix: ClassVar[str] = "TG_RATELIMIT_"

    enabled: bool = True
    ip_per_minute: int = Field(100, ge=1)
    user_per_minute: int = Field(500, ge=1)
    purchase_per_minute: int = Field(5, ge=1)


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window_s: int
    subject: Subject
    routes: tuple[str, ...] | None = None  # "METHOD /path"; None = every route

    def applies_to(self, route: str) -> bool:
        return self.routes is None or route in self.routes


def default_rules(settings: RateLimitSettings | None = None) -> tuple[Rule, ...]:
    """Spec threat 2: IP 100/min, user 500/min, the purchase route 5/min (per wallet: one buyer
    cannot try more than 5 purchases a minute; the predict route is called once per purchase)."""
    settings = settings or RateLimitSettings()
    return (
        Rule("ip", settings.ip_per_minute, 60, "ip"),
        Rule("user", settings.user_per_minute, 60, "user"),
        Rule("purchase", settings.purchase_per_minute, 60, "wallet", routes=(PREDICT_ROUTE,)),
    )


@dataclass(frozen=True)
class LimitDecision:
    allowed: bool
    retry_after_s: int = 0
    rule: str | None = None
    # True when Redis was unavailable and this process's own windows decided (see fallback.py).
    approximate: bool = False


def _key(rule: Rule, subject_value: str) -> str:
    digest = hashlib.blake2b(subject_value.lower().encode(), digest_size=10).hexdigest()
    return RATE_LIMIT.key(f"{rule.name}:{digest}")


class RateLimiter:
    def __init__(self, rules: tuple[Rule, ...] | None = None, *, enabled: bool | None = None) -> None:
        settings = RateLimitSettings()
        self.rules = rules if rules is not None else default_rules(settings)
        self.enabled = settings.enabled if enabled is None else enabled
        self.local = LocalWindows()

    def hit(
        self,
        client: redis.Redis | None,
        route: str,
        *,
        ip: str | None,
        user: str | None,
        wallet: str | None,
        along: RoundTrip | None = None,
    ) -> LimitDecision:
        """Count one request against every rule that applies; refuse it (counting nothing) if any
        rule is full. No Redis client -> this process's own windows decide (`approximate`); a
        RedisError during the call propagates, for the caller's circuit breaker (which then calls
        again without a client). `along`: the caller's round trip (on this client) with its own
        commands queued; the script joins them and this call executes it: one round trip for both."""
        applicable = self.subjects(route, ip=ip, user=user, wallet=wallet)
        if not applicable:
            if client is not None and along is not None:
                along.execute()
            return LimitDecision(True)
        keys = [_key(rule, str(value)) for rule, value in applicable]
        if client is None:
            allowed, wait_s, refused = self.local.hit(
                [(key, rule.limit, rule.window_s) for key, (rule, _) in zip(keys, applicable, strict=True)]
            )
            rule_name = applicable[refused][0].name if not allowed else None
            record_fallback()
            return LimitDecision(allowed, retry_after_s=wait_s, rule=rule_name, approximate=True)
        args: list[str | int] = [uuid.uuid4().hex]
        for rule, _ in applicable:
            args += [rule.limit, rule.window_s * 1000]
        trip = along if along is not None else RoundTrip(client)
        count_request(trip, ip)  # the monitoring page's traffic (shared.ratelimit.traffic), same trip
        reply = trip.eval(_SLIDING_LOG, keys, args, parse=raw)
        trip.execute()
        allowed, wait_ms, refused_index = reply.result()
        if allowed:
            return LimitDecision(True)
        rule = applicable[int(refused_index) - 1][0]
        # The refusal stands whether or not its count is written (one more round trip, refusals only).
        with contextlib.suppress(redis.RedisError, OSError):
            count_refusal(client, rule.name, ip)
        return LimitDecision(False, retry_after_s=max(1, math.ceil(int(wait_ms) / 1000)), rule=rule.name)

    def subjects(
        self, route: str, *, ip: str | None, user: str | None, wallet: str | None
    ) -> list[tuple[Rule, str]]:
        """The (rule, subject) pairs this request counts against. The IP rule always has a subject
        (the shared `unparsed` one for a missing or unparsable IP): no input switches it off."""
        if not self.enabled:
            return []
        return [
            (rule, subject)
            for rule in self.rules
            if rule.applies_to(route) and (subject := _subject(rule, ip=ip, user=user, wallet=wallet))
        ]


def _subject(rule: Rule, *, ip: str | None, user: str | None, wallet: str | None) -> str | None:
    if rule.subject == "ip":
        return ip_limit_subject(canonical_ip(ip))
    if rule.subject == "user":
        return user or wallet
    return wallet


_default_limiter: list[RateLimiter] = []


def enforce(route: str, *, ip: str | None, user: str | None = None, wallet: str | None = None) -> None:
    """Raise RateLimited when the request exceeds a rule (Redis from shared.cache.clients; when
    Redis is unavailable, this process's own windows)."""
    from shared.cache.clients import get_redis, mark_redis_down, mark_redis_up
    from shared.errors import RateLimited

    if not _default_limiter:
        _default_limiter.append(RateLimiter())
    limiter = _default_limiter[0]
    client = get_redis()
    try:
        decision = limiter.hit(client, route, ip=ip, user=user, wallet=wallet)
        if client is not None:
            mark_redis_up()
    except (redis.RedisError, OSError):
        mark_redis_down()
        decision = limiter.hit(None, route, ip=ip, user=user, wallet=wallet)
    if not decision.allowed:
        raise RateLimited(
            f"rate limit '{decision.rule}' exceeded; retry after {decision.retry_after_s} s",
            retry_after_s=decision.retry_after_s,
        )


def record_fallback() -> None:
    """One count of RateLimitFallback: a request whose limits this process's windows decided."""
    from shared.observability import metrics

    metrics.add_metric(name="RateLimitFallback", unit="Count", value=1)


def reset_default_limiter() -> None:
    _default_limiter.clear()

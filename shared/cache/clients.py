"""Redis clients, built in one place (`make_client`).

- The request path (`get_redis()`): short timeouts, and a circuit breaker so that a dead Redis costs
  one timeout per second per container, not one per call. Every user of `get_redis()` reports the
  outcome (`mark_redis_down` / `mark_redis_up`): the breaker lets one probe through after the open
  interval.
- A scheduled job (`job_redis()`): the same timeouts, no breaker (a job runs once and reports).
- Anything else (the health probe with its own timeout, the local runner) calls `make_client`.
"""

from __future__ import annotations

from functools import lru_cache

import redis

from shared.breaker import CircuitBreaker
from shared.config import get_settings

_breakers: list[CircuitBreaker] = []


def _breaker() -> CircuitBreaker:
    if not _breakers:
        _breakers.append(CircuitBreaker("redis", get_settings().redis_circuit_open_s))
    return _breakers[0]


def make_client(url: str, *, timeout_s: float | None = None) -> redis.Redis:
    """A client for `url`: `timeout_s` bounds the connection and every reply (None: no bound); a
    timeout is not retried (the caller, or its breaker, decides what a slow Redis means)."""
    # TCP keepalives (a TCP URL; a unix socket has none): a vanished server or network path is
    # noticed on an idle connection too. A stopped one (its kernel still answering) is the timeout's case.
    tcp = {"socket_keepalive": True} if url.startswith(("redis://", "rediss://")) else {}
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry_on_timeout=False,
        health_check_interval=30,
        **tcp,
    )


@lru_cache(maxsize=4)
def _client(url: str, timeout_s: float) -> redis.Redis:
    return make_client(url, timeout_s=timeout_s)


def get_redis() -> redis.Redis | None:
    """The Redis client, or None when no REDIS_URL is configured or Redis failed a moment ago."""
    settings = get_settings()
    if not settings.redis_url or not _breaker().allow():
        return None
    return _client(settings.redis_url, settings.redis_timeout_s)


def job_redis() -> redis.Redis | None:
    """A client for a scheduled job (Settings.redis_timeout_s, no breaker), or None without REDIS_URL."""
    settings = get_settings()
    if not settings.redis_url:
        return None
    return make_client(settings.redis_url, timeout_s=settings.redis_timeout_s)


def mark_redis_down() -> None:
    _breaker().failed()


def mark_redis_up() -> None:
    _breaker().succeeded()


def redis_is_down() -> bool:
    return _breaker().is_open


def reset_redis() -> None:
    """Forget clients and the circuit state (tests, configuration changes)."""
    _breakers.clear()
    _client.cache_clear()

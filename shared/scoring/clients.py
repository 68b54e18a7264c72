"""Redis for the request path: short timeouts, and a brief circuit breaker so that a dead Redis
costs one timeout per second per container, not one per call."""

from __future__ import annotations

import threading
import time
from functools import lru_cache

import redis

from shared.config import get_settings

# After a failure, Redis is skipped for this long; the first request after it tries again.
CIRCUIT_OPEN_S = 1.0

_state_lock = threading.Lock()
_down_until = 0.0


@lru_cache(maxsize=4)
def _client(url: str, timeout_s: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry_on_timeout=False,
        health_check_interval=30,
    )


def get_redis() -> redis.Redis | None:
    """The Redis client, or None when no REDIS_URL is configured or Redis failed a moment ago."""
    settings = get_settings()
    if not settings.redis_url:
        return None
    with _state_lock:
        if time.monotonic() < _down_until:
            return None
    return _client(settings.redis_url, settings.redis_timeout_s)


def mark_redis_down() -> None:
    global _down_until
    with _state_lock:
        _down_until = time.monotonic() + CIRCUIT_OPEN_S


def reset_redis() -> None:
    """Forget clients and the circuit state (tests, configuration changes)."""
    global _down_until
    with _state_lock:
        _down_until = 0.0
    _client.cache_clear()

"""One scoring request as it goes (`Attempt`): what was asked, from which IP, at what time, the Redis
session it talks through and the time it may still spend. Every step of shared.scoring.service takes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from shared.cache.clients import mark_redis_down, mark_redis_up
from shared.config import Settings
from shared.errors import DependencyUnavailable
from shared.observability import logger
from shared.scoring.types import PredictRequest, RateLimitMode


class RedisSession:
    """Redis for one request: the first failure turns it off for the rest of the request."""

    def __init__(self, client: redis.Redis | None) -> None:
        self.client = client
        self.failed = client is None
        self.limits: RateLimitMode = "exact"

    def run(self, action: Callable[[redis.Redis], Any]) -> Any:
        if self.client is None:
            return None
        try:
            result = action(self.client)
        except (redis.RedisError, OSError) as exc:
            logger.warning("redis unavailable, continuing on PostgreSQL", extra={"error": type(exc).__name__})
            mark_redis_down()
            self.client = None
            self.failed = True
            return None
        mark_redis_up()
        return result


class Budget:
    """Settings.request_timeout_s for the whole request, counted from its arrival (the caller's
    `deadline`: API Gateway's request time, capped by what Lambda's context has left), not from the
    moment a server thread picked it up: checked before each PostgreSQL step, and the pool wait never
    exceeds what is left. With each statement capped by the statement timeout and Redis by its socket
    timeout, no request outlives the budget by more than one statement."""

    def __init__(self, started: float, settings: Settings, deadline: float | None = None) -> None:
        own = started + settings.request_timeout_s
        self.deadline = own if deadline is None else min(own, deadline)
        self.total_s = settings.request_timeout_s
        self.pool_wait_s = settings.db_connect_timeout_s

    def pool_timeout(self, step: str) -> float:
        remaining = self.deadline - time.perf_counter()
        if remaining <= 0:
            raise DependencyUnavailable(f"the request used its {self.total_s:g} s budget before {step}")
        return min(self.pool_wait_s, remaining)


@dataclass
class Attempt:
    """One purchase being scored: the request, the buyer's IP (None: missing or unparsable), the
    request's clock (`now`, and `started` on the time.perf_counter() scale), its Redis session and budget."""

    request: PredictRequest
    ip: str | None
    now: datetime
    started: float
    session: RedisSession
    budget: Budget

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

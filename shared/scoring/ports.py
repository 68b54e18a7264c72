"""What scoring talks to, one small protocol per port; `shared.scoring.service.default_deps()` binds
the real ones, and a test of scoring's own logic may pass a fake of any one of them.

- `Stores`: the PostgreSQL pool and the Redis client (None: Redis is off or its circuit is open);
- `FeatureStore`: the feature layer (shared.features.realtime) as one purchase sees it;
- `ModelSource`: which model decides a purchase, and the served version (shared.scoring.models);
- `ColdStart`: the cold-start guard's reading (shared.scoring.coldstart);
- the rate limiter (shared.ratelimit), settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import redis
from psycopg_pool import ConnectionPool

from shared.cache.clients import get_redis
from shared.cache.roundtrip import RoundTrip
from shared.config import Settings, Thresholds, get_settings, get_thresholds
from shared.db import get_pool
from shared.features import realtime
from shared.features.realtime import FeatureResult, PrefetchedRead, ScoringContext
from shared.ratelimit import RateLimiter
from shared.scoring.types import PredictRequest


class Stores(Protocol):
    def pool(self) -> ConnectionPool: ...

    def redis(self) -> redis.Redis | None: ...


class FeatureStore(Protocol):
    def context(self, request: PredictRequest, ip: str | None, at: datetime) -> ScoringContext:
        """The feature layer's view of this purchase; raises ValidationFailed for one it refuses."""
        ...

    def queue_read(self, context: ScoringContext, trip: RoundTrip) -> PrefetchedRead:
        """Queue the purchase's feature read on another reader's round trip."""
        ...

    def compute(
        self,
        context: ScoringContext,
        *,
        redis: redis.Redis | None,
        pool: ConnectionPool,
        prefetched: PrefetchedRead | None,
        signals: dict[str, float | None] | None = None,
    ) -> FeatureResult: ...

    def signals_statement(self, context: ScoringContext) -> tuple[str, dict[str, Any]]:
        """The purchase's signals query and its parameters, to send beside another statement."""
        ...

    def signals_from_row(self, context: ScoringContext, row: tuple[Any, ...]) -> dict[str, float | None]:
        """The signals' values from the row of `signals_statement`."""
        ...

    def facts_statement(self, prefetched: PrefetchedRead | None) -> tuple[str, dict[str, Any]] | None:
        """The facts query of a purchase whose prefetched read missed, to send beside another
        statement (None: nothing to read there)."""
        ...

    def keep_facts(self, prefetched: PrefetchedRead, row: tuple[Any, ...]) -> None:
        """Keep the row of `facts_statement` for `compute`."""
        ...

    def queue_write_back(self, prefetched: PrefetchedRead | None, trip: RoundTrip) -> None:
        """Queue the write-back of the kept facts on another round trip, executed before `compute`."""
        ...

    def record_purchase(self, context: ScoringContext, redis: redis.Redis | None) -> bool:
        """Add a scored purchase to the real-time windows (False: Redis did not take it)."""
        ...


class ScoringModel(Protocol):
    """A loaded model version (shared.model.CompiledModel)."""

    version: str
    feature_names: tuple[str, ...]

    def predict(self, values: Sequence[float | None]) -> float: ...

    def contributions(self, values: Sequence[float | None]) -> list[float]: ...


@dataclass(frozen=True)
class ModelChoice:
    """The model that decides a purchase, and the candidate scoring it in shadow (None: no shadow)."""

    model: ScoringModel
    shadow: ScoringModel | None = None


class ModelSource(Protocol):
    def choose(self, transaction_id: str) -> ModelChoice:
        """The served model, or a canary for its share; raises ModelUnavailable or ModelIntegrityError."""
        ...

    def version(self) -> str:
        """The served version for a response without a score, or "none"; never raises."""
        ...


class GuardReading(Protocol):
    @property
    def cut(self) -> float | None:
        """The score the guard moves onto the REQUIRE_2FA threshold (None: the guard is off)."""
        ...


class ColdStart(Protocol):
    def state(self, pool: ConnectionPool, at: datetime, thresholds: Thresholds) -> GuardReading: ...


@dataclass
class ScoringDeps:
    stores: Stores
    features: FeatureStore
    models: ModelSource
    limiter: RateLimiter = field(default_factory=RateLimiter)
    # None: the model's score decides alone.
    cold_start: ColdStart | None = None
    settings: Callable[[], Settings] = get_settings
    thresholds: Callable[[], Thresholds] = get_thresholds


# ---------------------------------------------------------------- the real ones


class LiveStores:
    """The process's pool and Redis client (shared.db, shared.cache.clients)."""

    def pool(self) -> ConnectionPool:
        return get_pool()

    def redis(self) -> redis.Redis | None:
        return get_redis()


class RealtimeFeatures:
    """shared.features.realtime as the `FeatureStore`."""

    def context(self, request: PredictRequest, ip: str | None, at: datetime) -> ScoringContext:
        return ScoringContext(
            wallet_address=request.wallet_address,
            ticket_id=request.ticket_id,
            price_paid=request.price_paid,
            client_ip=ip,
            at=at,
            payment_fingerprint=request.payment_fingerprint,
        )

    def queue_read(self, context: ScoringContext, trip: RoundTrip) -> PrefetchedRead:
        return realtime.queue_read(context, trip)

    def compute(
        self,
        context: ScoringContext,
        *,
        redis: redis.Redis | None,
        pool: ConnectionPool,
        prefetched: PrefetchedRead | None,
        signals: dict[str, float | None] | None = None,
    ) -> FeatureResult:
        return realtime.compute_realtime_features(
            context, redis=redis, pool=pool, prefetched=prefetched, signals=signals
        )

    def signals_statement(self, context: ScoringContext) -> tuple[str, dict[str, Any]]:
        return realtime.signals_statement(context)

    def signals_from_row(self, context: ScoringContext, row: tuple[Any, ...]) -> dict[str, float | None]:
        return realtime.signals_from_row(context, row)

    def facts_statement(self, prefetched: PrefetchedRead | None) -> tuple[str, dict[str, Any]] | None:
        return realtime.facts_statement(prefetched)

    def keep_facts(self, prefetched: PrefetchedRead, row: tuple[Any, ...]) -> None:
        realtime.keep_facts(prefetched, row)

    def queue_write_back(self, prefetched: PrefetchedRead | None, trip: RoundTrip) -> None:
        realtime.queue_write_back(prefetched, trip)

    def record_purchase(self, context: ScoringContext, redis: redis.Redis | None) -> bool:
        return realtime.record_purchase(context, redis)


__all__ = [
    "ColdStart",
    "FeatureStore",
    "GuardReading",
    "LiveStores",
    "ModelChoice",
    "ModelSource",
    "RealtimeFeatures",
    "ScoringDeps",
    "ScoringModel",
    "Stores",
]

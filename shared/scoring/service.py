"""Request -> admission -> model -> decision -> stored prediction -> response.

The steps of one scoring request (`_decide`), each in its own room:
1. Admission (shared.scoring.lookup): one Redis round trip reads the cached wallet->user link and
   blocklist verdicts with the purchase's feature read queued beside them; one PostgreSQL query reads
   a stored prediction for this transaction_id and whatever the cache missed; the rate limits (one Lua
   call, with the cache fill on its round trip) count the request, a retry included.
2. A stored prediction -> returned as it is (`replayed`, shared.scoring.predictions): nothing is
   scored twice.
3. A blocklisted wallet or IP -> BLOCKED without a score, stored; `reason` says which.
4. The model that decides (shared.scoring.models: the served one, or a canary for its share).
5. The features (shared.features.realtime, from the prefetched read; PostgreSQL on a miss).
6. The model's score and contributions, the cold-start guard (shared.scoring.coldstart), the decision
   band and top features (shared.scoring.decision).
7. INSERT ... ON CONFLICT DO NOTHING: if a concurrent request with the same transaction_id won the
   race, its decision is returned instead; only the winner goes on.
8. The winner's follow-ups: a shadow candidate's score stored beside it (shared.scoring.rollout), the
   purchase added to the real-time windows.
Redis round trips per request: 3 when the caches hit, +1 on a feature-cache miss (the guarded
write-back; tests/integration/test_cache_room.py counts them).

Degraded: any Redis failure switches Redis off for the rest of the request (and, through the
circuit breaker, for a second); PostgreSQL then serves everything and the response says
`degraded: true`. PostgreSQL down -> DependencyUnavailable (503), or with Settings.fail_open a
REQUIRE_2FA decision that is not stored.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from shared.config import Thresholds
from shared.db.deadline import deadline_scope
from shared.errors import DependencyUnavailable
from shared.features.realtime import FeatureResult, ScoringContext
from shared.identifiers import canonical_ip
from shared.observability import logger, segment
from shared.scoring import decision, lookup, predictions, rollout, telemetry
from shared.scoring.coldstart import ColdStartGuard, guarded_score
from shared.scoring.lookup import Prefetch
from shared.scoring.models import ServedModels
from shared.scoring.ports import LiveStores, ModelChoice, RealtimeFeatures, ScoringDeps
from shared.scoring.session import Attempt, Budget, RedisSession
from shared.scoring.types import Decision, PredictRequest, PredictResponse, Reason


def default_deps() -> ScoringDeps:
    from shared.db import get_pool
    from shared.oncall.tightening import AdjustedThresholds

    return ScoringDeps(
        stores=LiveStores(),
        features=RealtimeFeatures(),
        models=ServedModels(),
        cold_start=ColdStartGuard(),
        # The REQUIRE_2FA threshold as an alarm or an admin adjusted it, for a fixed time (issue 27).
        thresholds=AdjustedThresholds(get_pool),
    )


_deps_cache: list[ScoringDeps] = []


def _default_deps() -> ScoringDeps:
    if not _deps_cache:
        _deps_cache.append(default_deps())
    return _deps_cache[0]


def reset_default_deps() -> None:
    _deps_cache.clear()


def score_transaction(
    request: PredictRequest,
    *,
    client_ip: str | None,
    deps: ScoringDeps | None = None,
    now: datetime | None = None,
    deadline: float | None = None,
) -> PredictResponse:
    """Decide on one purchase. Raises the domain errors the API maps (RateLimited, NotFound, Conflict,
    DependencyUnavailable, ModelUnavailable). `deadline` (time.perf_counter() scale) is when the
    request's time is up as its caller counts it (from its arrival); the budget never exceeds it."""
    started = time.perf_counter()
    deps = deps or _default_deps()
    settings = deps.settings()
    attempt = Attempt(
        request,
        _buyer_ip(request, client_ip),
        now or datetime.now(UTC),
        started,
        RedisSession(deps.stores.redis()),
        Budget(started, settings, deadline),
    )
    try:
        with deadline_scope(attempt.budget.deadline):  # every PostgreSQL wait of the request ends by then
            response = _decide(attempt, deps)
    except DependencyUnavailable:
        telemetry.record_count("DependencyUnavailable")
        if not settings.fail_open:
            raise
        attempt = replace(attempt, session=RedisSession(deps.stores.redis()))
        response = _fail_open(attempt, deps)
    if response.rate_limits != attempt.session.limits:
        response = response.model_copy(update={"rate_limits": attempt.session.limits})
    _report(attempt, response)
    return response


def _buyer_ip(request: PredictRequest, client_ip: str | None) -> str | None:
    """The buyer's IP as the marketplace saw it, when it sends one (validated by the request model);
    else the API caller's, which for a marketplace backend is its own address (README: send buyer_ip)."""
    ip = request.buyer_ip or canonical_ip(client_ip)
    if ip is None:
        # Counted by the IP limit under one shared subject (shared.identifiers); never a way around it.
        telemetry.record_count("UnparsableClientIp")
        logger.warning("client IP missing or unparsable", extra={"client_ip_given": client_ip is not None})
    return ip


def _report(attempt: Attempt, response: PredictResponse) -> None:
    latency_ms = attempt.elapsed_ms()
    telemetry.record_decision(response, latency_ms)
    logger.info(
        "scored",
        extra={
            "transaction_id": response.transaction_id,
            "wallet": attempt.request.wallet_address,
            "client_ip": attempt.ip,
            "decision": response.decision.value,
            "fraud_score": response.fraud_score,
            "reason": response.reason.value,
            "degraded": response.degraded,
            "replayed": response.replayed,
            "latency_ms": round(latency_ms, 3),
        },
    )


def _fail_open(attempt: Attempt, deps: ScoringDeps) -> PredictResponse:
    """REQUIRE_2FA without PostgreSQL, not stored; the limits still apply, to what is known without it
    (the IP and the wallet; the user needs PostgreSQL or the cache)."""
    lookup.enforce_limits(deps.limiter, attempt, lookup.UNKNOWN, None)
    response = decision.unscored(
        attempt.request.transaction_id,
        Reason.FAIL_OPEN,
        model_version=deps.models.version(),
        degraded=True,
        at=attempt.now,
    )
    logger.warning("PostgreSQL unavailable: fail-open decision", extra={"decision": response.decision})
    return response


def _decide(attempt: Attempt, deps: ScoringDeps) -> PredictResponse:
    """The steps of one purchase, in order (the module's docstring numbers them)."""
    try:
        pool = deps.stores.pool()
        with segment("lookup"):
            admitted = lookup.admit(attempt, pool, deps.features, deps.limiter)
        if admitted.found.existing is not None:
            return predictions.replay(admitted.found.existing, attempt.request)
        blocked_by = admitted.found.blocked_by
        if blocked_by is not None:
            return _blocked(attempt, deps, pool, blocked_by)
        return _scored(attempt, deps, pool, admitted.prefetch)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DependencyUnavailable("PostgreSQL is unavailable") from exc


def _blocked(attempt: Attempt, deps: ScoringDeps, pool: ConnectionPool, reason: Reason) -> PredictResponse:
    response = decision.unscored(
        attempt.request.transaction_id,
        reason,
        model_version=deps.models.version(),
        degraded=attempt.session.failed,
        at=attempt.now,
    )
    return predictions.store(attempt, pool, response, {})


def _scored(
    attempt: Attempt, deps: ScoringDeps, pool: ConnectionPool, prefetch: Prefetch | None
) -> PredictResponse:
    choice = deps.models.choose(attempt.request.transaction_id)
    context, features = _features(attempt, deps, pool, prefetch)
    with segment("model"):
        output = decision.run_model(choice.model, features.values)
    thresholds = deps.thresholds()
    score = _cold_start(deps, pool, attempt.now, thresholds, output.score)
    response = decision.scored(
        attempt.request.transaction_id,
        choice.model,
        output,
        score,
        features.values,
        thresholds,
        unavailable=features.unavailable,
        degraded=features.degraded or attempt.session.failed,
        at=attempt.now,
    )
    with segment("store"):
        stored = predictions.store(attempt, pool, response, dict(features.values), model_score=output.score)
    if stored.replayed:
        return stored
    _follow_up(attempt, deps, pool, choice, context, response, features, thresholds)
    if attempt.session.failed and not response.degraded:
        response = response.model_copy(update={"degraded": True})
    return response


def _features(
    attempt: Attempt, deps: ScoringDeps, pool: ConnectionPool, prefetch: Prefetch | None
) -> tuple[ScoringContext, FeatureResult]:
    """The purchase's features, from the read queued at admission when there was one."""
    attempt.budget.pool_timeout("computing the features")
    with segment("features"):
        if prefetch is None:  # a context the feature layer refused at admission is refused here
            prefetch = Prefetch(deps.features.context(attempt.request, attempt.ip, attempt.now))
        features = deps.features.compute(
            prefetch.context, redis=attempt.session.client, pool=pool, prefetched=prefetch.handle
        )
    return prefetch.context, features


def _cold_start(
    deps: ScoringDeps, pool: ConnectionPool, now: datetime, thresholds: Thresholds, score: float
) -> float:
    """The score through the cold-start guard (identity when it is off)."""
    if deps.cold_start is None:
        return score
    with segment("cold_start"):
        state = deps.cold_start.state(pool, now, thresholds)
    return guarded_score(score, state.cut, thresholds)


def _follow_up(
    attempt: Attempt,
    deps: ScoringDeps,
    pool: ConnectionPool,
    choice: ModelChoice,
    context: ScoringContext,
    response: PredictResponse,
    features: FeatureResult,
    thresholds: Thresholds,
) -> None:
    """After the decision is stored: the shadow candidate's score beside it, the purchase in the windows."""
    if choice.shadow is not None:
        rollout.store_shadow(
            pool,
            choice.shadow,
            transaction_id=attempt.request.transaction_id,
            values=features.values,
            served_version=choice.model.version,
            thresholds=thresholds,
            at=attempt.now,
            timeout_s=lambda: attempt.budget.pool_timeout("storing the shadow score"),
        )
    if response.decision is not Decision.BLOCKED:
        attempt.session.run(partial(deps.features.record_purchase, context))

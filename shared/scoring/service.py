"""Request -> blocklist -> features -> model -> decision -> stored prediction -> response.

The order of one scoring request:
1. Redis (one MGET): cached wallet->user link and blocklist verdicts for the wallet and the IP;
   the feature read (shared.features.realtime.queue_read) rides in the same round trip
   (shared.cache.roundtrip: one pipeline, each reply handed to its reader).
2. PostgreSQL (one query): a stored prediction for this transaction_id (idempotency), plus whatever
   the cache missed (the cache is then filled, briefly: a new blocklist entry applies within 30 s).
3. Rate limits (one Lua call, in the same round trip as the cache fill): client IP, user, purchase
   route. A retry counts as a request.
4. A stored prediction -> returned as it is (`replayed`), nothing is scored twice.
5. Blocklisted wallet or IP -> BLOCKED without scoring, `reason` says which.
6. Features (shared.features.realtime, from the prefetched read; PostgreSQL on a miss), the model,
   the decision band, the top features.
Redis round trips per request: 3 when the caches hit (7 before), +1 on a feature-cache miss
(the guarded write-back; tests/integration/test_cache_room.py counts them).
7. INSERT ... ON CONFLICT DO NOTHING: if a concurrent request with the same transaction_id won the
   race, its decision is returned instead; only the winner updates the real-time windows.

Degraded: any Redis failure switches Redis off for the rest of the request (and, through the
circuit breaker, for a second); PostgreSQL then serves everything and the response says
`degraded: true`. PostgreSQL down -> DependencyUnavailable (503), or with Settings.fail_open a
REQUIRE_2FA decision that is not stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import psycopg
import redis
from psycopg_pool import ConnectionPool, PoolTimeout

from shared.cache.clients import get_redis
from shared.cache.roundtrip import RoundTrip
from shared.config import Settings, Thresholds, get_settings, get_thresholds
from shared.db.deadline import deadline_scope
from shared.errors import (
    ConfigurationError,
    DependencyUnavailable,
    ModelIntegrityError,
    ModelUnavailable,
    RateLimited,
    TicketGuardError,
)
from shared.identifiers import canonical_ip
from shared.observability import logger, segment
from shared.observability.pii import pii_salt
from shared.ratelimit import RateLimiter
from shared.ratelimit.limiter import PREDICT_ROUTE, LimitDecision
from shared.scoring import rollout, telemetry
from shared.scoring.coldstart import ColdStartGuard, guarded_score
from shared.scoring.decision import confidence, decide, top_features
from shared.scoring.lookup import (
    Budget,
    Lookup,
    RedisSession,
    cache_fill,
    check_same_request,
    hash_ip,
    lookup,
    read_cache,
    store_prediction,
    stored_response,
)
from shared.scoring.types import Decision, PredictRequest, PredictResponse, Reason

NO_MODEL_VERSION = "none"
MODEL_RECHECK_S = 1.0


class FeatureResultLike(Protocol):
    values: dict[str, float | None]
    degraded: bool
    unavailable: list[str]


class ModelLike(Protocol):
    version: str
    feature_names: tuple[str, ...]

    def predict(self, values: Any) -> float: ...

    def contributions(self, values: Any) -> list[float]: ...


@dataclass
class ScoringDeps:
    """What scoring talks to; `default_deps()` binds the real ones (tests of scoring's own logic may
    pass small fakes of the feature and model interfaces)."""

    pool: Callable[[], ConnectionPool]
    redis: Callable[[], redis.Redis | None]
    compute_features: Callable[..., FeatureResultLike]
    record_purchase: Callable[..., object]
    make_context: Callable[..., Any]
    load_model: Callable[[], ModelLike]
    limiter: RateLimiter = field(default_factory=RateLimiter)
    # Queues the feature read on the cache read's round trip (one for both): (context, RoundTrip) ->
    # a handle, which goes to compute_features as `prefetched`. None: features read on their own.
    queue_feature_read: Callable[[Any, RoundTrip], Any] | None = None
    # (monotonic time, model) of the last successful load_model(); see _model_or_unavailable.
    model_memo: tuple[float, ModelLike] | None = field(default=None, init=False, repr=False)
    settings: Callable[[], Settings] = get_settings
    thresholds: Callable[[], Thresholds] = get_thresholds
    # The model version under trial beside the served one (shared.model.rollout.Candidate) or None.
    candidate: Callable[[], Any] | None = None
    # The cold-start guard (shared.scoring.coldstart); None: the model's score decides alone.
    cold_start: ColdStartGuard | None = None


def default_deps() -> ScoringDeps:
    from shared.db import get_pool
    from shared.features.realtime import (
        ScoringContext,
        compute_realtime_features,
        queue_read,
        record_purchase,
    )
    from shared.model import load_model
    from shared.model.rollout import candidate

    return ScoringDeps(
        pool=get_pool,
        redis=get_redis,
        compute_features=compute_realtime_features,
        record_purchase=record_purchase,
        make_context=ScoringContext,
        load_model=load_model,
        queue_feature_read=queue_read,
        candidate=rollout.CandidateMemo(candidate),
        cold_start=ColdStartGuard(),
    )


def _model_or_unavailable(deps: ScoringDeps) -> ModelLike:
    # load_model() re-resolves the model directory (stat calls and a read of model_artifacts/CURRENT)
    # on every call, so that a new CURRENT is picked up; once a second is enough for that, not once
    # per request. On Lambda the directory (/opt/model) never changes.
    now = time.monotonic()
    memo = deps.model_memo
    if memo is not None and now - memo[0] < MODEL_RECHECK_S:
        return memo[1]
    try:
        model = deps.load_model()
        deps.model_memo = (now, model)
        return model
    except ModelIntegrityError:
        raise
    except ConfigurationError as exc:
        raise ModelUnavailable(f"no model is loaded: {exc.message}") from exc


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
    # The buyer's IP as the marketplace saw it, when it sends one (validated by the request model);
    # else the API caller's, which for a marketplace backend is its own address (README: send buyer_ip).
    ip = request.buyer_ip or canonical_ip(client_ip)
    if ip is None:
        # Counted by the IP limit under one shared subject (shared.identifiers); never a way around it.
        telemetry.record_count("UnparsableClientIp")
        logger.warning("client IP missing or unparsable", extra={"client_ip_given": client_ip is not None})
    try:
        response = _score(request, ip, deps, settings, started, now or datetime.now(UTC), deadline)
    except DependencyUnavailable:
        telemetry.record_count("DependencyUnavailable")
        if not settings.fail_open:
            raise
        response = _fail_open(request, ip, deps, now or datetime.now(UTC))
        logger.warning("PostgreSQL unavailable: fail-open decision", extra={"decision": response.decision})
    latency_ms = (time.perf_counter() - started) * 1000
    telemetry.record_decision(response, latency_ms)
    logger.info(
        "scored",
        extra={
            "transaction_id": request.transaction_id,
            "wallet": request.wallet_address,
            "client_ip": ip,
            "decision": response.decision.value,
            "fraud_score": response.fraud_score,
            "reason": response.reason.value,
            "degraded": response.degraded,
            "replayed": response.replayed,
            "latency_ms": round(latency_ms, 3),
        },
    )
    return response


def _scoring_context(deps: ScoringDeps, request: PredictRequest, ip: str | None, now: datetime) -> Any:
    """The feature layer's view of this purchase (one place builds it: prefetch and scoring agree)."""
    return deps.make_context(
        wallet_address=request.wallet_address,
        ticket_id=request.ticket_id,
        price_paid=request.price_paid,
        client_ip=ip,
        at=now,
        payment_fingerprint=request.payment_fingerprint,
    )


_deps_cache: list[ScoringDeps] = []


def _default_deps() -> ScoringDeps:
    if not _deps_cache:
        _deps_cache.append(default_deps())
    return _deps_cache[0]


def reset_default_deps() -> None:
    _deps_cache.clear()


def _fail_open(request: PredictRequest, ip: str | None, deps: ScoringDeps, now: datetime) -> PredictResponse:
    """REQUIRE_2FA without PostgreSQL; the limits still apply, to what is known without it (the IP
    and the wallet; the user needs PostgreSQL or the cache)."""
    session = RedisSession(deps.redis())
    unknown = Lookup(existing=None, user_id=None, wallet_blocked=False, ip_blocked=False)
    _enforce_limits(deps, session, request, ip, unknown, None)
    try:
        version = deps.load_model().version
    except Exception:
        version = NO_MODEL_VERSION
    return PredictResponse(
        transaction_id=request.transaction_id,
        fraud_score=None,
        decision=Decision.REQUIRE_2FA,
        confidence=0.0,
        top_features={},
        model_version=version,
        reason=Reason.FAIL_OPEN,
        degraded=True,
        replayed=False,
        scored_at=now,
        rate_limits=session.limits,
    )


def _score(
    request: PredictRequest,
    ip: str | None,
    deps: ScoringDeps,
    settings: Settings,
    started: float,
    now: datetime,
    deadline: float | None = None,
) -> PredictResponse:
    session = RedisSession(deps.redis())
    budget = Budget(started, settings, deadline)
    with deadline_scope(budget.deadline):  # every PostgreSQL wait of the request ends by then
        response = _decide(request, ip, deps, session, budget, started, now)
    if response.rate_limits != session.limits:
        response = response.model_copy(update={"rate_limits": session.limits})
    return response


def _enforce_limits(
    deps: ScoringDeps,
    session: RedisSession,
    request: PredictRequest,
    ip: str | None,
    found: Lookup,
    fill: Callable[[RoundTrip], None] | None,
) -> None:
    """The application limits, in Redis (one Lua call sharing the cache fill's round trip) or, when
    Redis is unavailable, in this process's windows. A retry of a stored transaction counts against
    the IP limit only: it is not a new purchase attempt of the wallet or its user."""
    replay = found.existing is not None
    # The marketplace's user id when it sends one, else the wallet's account as the service knows it.
    known_user = request.user_id or (str(found.user_id) if found.user_id else None)
    user = None if replay else known_user
    wallet = None if replay else request.wallet_address

    def hit(client: redis.Redis | None) -> LimitDecision:
        along = None
        if client is not None and fill is not None:
            along = RoundTrip(client)
            fill(along)
        return deps.limiter.hit(client, PREDICT_ROUTE, ip=ip, user=user, wallet=wallet, along=along)

    decision: LimitDecision | None = session.run(hit)
    if decision is None:  # Redis off or failing: never no limits at all
        decision = hit(None)
    if not deps.limiter.enabled:
        session.limits = "off"
    elif decision.approximate:  # the limiter counted it (RateLimitFallback)
        session.limits = "approximate"
    if not decision.allowed:
        telemetry.record_count("RateLimited")
        raise RateLimited(
            f"rate limit '{decision.rule}' exceeded; retry after {decision.retry_after_s} s",
            retry_after_s=decision.retry_after_s,
        )


def _decide(
    request: PredictRequest,
    ip: str | None,
    deps: ScoringDeps,
    session: RedisSession,
    budget: Budget,
    started: float,
    now: datetime,
) -> PredictResponse:
    try:
        pool = deps.pool()
        prefetch = _feature_prefetch(request, ip, deps, now)
        with segment("lookup"):
            cached = read_cache(
                session,
                request.wallet_address,
                ip,
                None
                if prefetch is None or deps.queue_feature_read is None
                else partial(_queue_prefetch, prefetch, deps.queue_feature_read),
            )
            found = lookup(pool, request, ip, cached, budget)
            fill = cache_fill(request.wallet_address, ip, cached, found)
            _enforce_limits(deps, session, request, ip, found, fill)

        if found.existing is not None:
            check_same_request(found.existing, request)
            return stored_response(found.existing, replayed=True)

        if found.wallet_blocked or found.ip_blocked:
            return _blocked(request, ip, deps, pool, session, started, now, found, budget)

        model = _model_or_unavailable(deps)
        trial = deps.candidate() if deps.candidate is not None else None
        if trial is not None and trial.decides(request.transaction_id):
            model = trial.model  # a canary's share of the purchases
        budget.pool_timeout("computing the features")
        with segment("features"):
            if prefetch is not None:
                context = prefetch.context
                features = deps.compute_features(
                    context, redis=session.client, pool=pool, prefetched=prefetch.handle
                )
            else:
                context = _scoring_context(deps, request, ip, now)
                features = deps.compute_features(context, redis=session.client, pool=pool)
        with segment("model"):
            vector = [features.values.get(name) for name in model.feature_names]
            # Rounded once, before deciding: the band always follows from the score the client sees.
            model_score = round(min(1.0, max(0.0, float(model.predict(vector)))), 6)
            contributions = model.contributions(vector)
        thresholds = deps.thresholds()
        score = _cold_start(deps, pool, now, thresholds, model_score)
        response = PredictResponse(
            transaction_id=request.transaction_id,
            fraud_score=score,
            decision=decide(score, thresholds),
            confidence=confidence(score, thresholds),
            top_features=top_features(contributions, model.feature_names, features.values),
            model_version=model.version,
            reason=Reason.MODEL,
            degraded=bool(features.degraded) or session.failed,
            # the ones this model scores (the service computes more than an older model reads)
            unavailable_features=[name for name in features.unavailable if name in model.feature_names],
            replayed=False,
            scored_at=now,
        )
        latency_ms = (time.perf_counter() - started) * 1000
        with segment("store"):
            winner = store_prediction(
                pool,
                request,
                response,
                dict(features.values),
                hash_ip(ip, pii_salt()),
                latency_ms,
                budget,
                model_score=model_score,
            )
        if winner is not None:
            check_same_request(winner, request)
            return stored_response(winner, replayed=True)
        if trial is not None and trial.mode == "shadow":
            rollout.store_shadow(
                pool,
                trial.model,
                transaction_id=request.transaction_id,
                values=features.values,
                served_version=model.version,
                thresholds=thresholds,
                at=now,
                timeout_s=lambda: budget.pool_timeout("storing the shadow score"),
            )
        if response.decision is not Decision.BLOCKED:
            session.run(lambda client: deps.record_purchase(context, client))
        if session.failed and not response.degraded:
            response = response.model_copy(update={"degraded": True})
        return response
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DependencyUnavailable("PostgreSQL is unavailable") from exc


def _cold_start(deps: ScoringDeps, pool: Any, now: datetime, thresholds: Thresholds, score: float) -> float:
    """The score through the cold-start guard (identity when it is off or cannot read its state)."""
    if deps.cold_start is None:
        return score
    with segment("cold_start"):
        state = deps.cold_start.state(pool, now, thresholds)
    return guarded_score(score, state.cut, thresholds)


@dataclass
class _Prefetch:
    context: Any
    handle: Any = None


def _feature_prefetch(
    request: PredictRequest, ip: str | None, deps: ScoringDeps, now: datetime
) -> _Prefetch | None:
    """The scoring context, built up front so its feature read can share the cache read's round trip
    (a read only: wasted, harmlessly, on a replay, a blocked or a rate-limited request). A context
    the feature layer refuses is left to be refused where it always was, after those checks."""
    if deps.queue_feature_read is None:
        return None
    try:
        context = _scoring_context(deps, request, ip, now)
    except TicketGuardError:
        return None
    return _Prefetch(context)


def _queue_prefetch(prefetch: _Prefetch, queue_read: Callable[[Any, RoundTrip], Any], trip: RoundTrip) -> Any:
    prefetch.handle = queue_read(prefetch.context, trip)
    return prefetch.handle


def _blocked(
    request: PredictRequest,
    ip: str | None,
    deps: ScoringDeps,
    pool: ConnectionPool,
    session: RedisSession,
    started: float,
    now: datetime,
    found: Lookup,
    budget: Budget,
) -> PredictResponse:
    try:
        version = deps.load_model().version
    except (ConfigurationError, ModelIntegrityError):
        version = NO_MODEL_VERSION
    response = PredictResponse(
        transaction_id=request.transaction_id,
        fraud_score=None,
        decision=Decision.BLOCKED,
        confidence=1.0,
        top_features={},
        model_version=version,
        reason=Reason.BLOCKLIST_WALLET if found.wallet_blocked else Reason.BLOCKLIST_IP,
        degraded=session.failed,
        replayed=False,
        scored_at=now,
    )
    winner = store_prediction(
        pool,
        request,
        response,
        {},
        hash_ip(ip, pii_salt()),
        (time.perf_counter() - started) * 1000,
        budget,
    )
    if winner is not None:
        check_same_request(winner, request)
        return stored_response(winner, replayed=True)
    return response

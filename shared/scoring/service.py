"""Request -> admission -> model -> decision -> stored prediction -> response.

The steps of one scoring request (`_decide`), a pipeline: service.py calls each room once, in this
order, and no room calls back; a step that does not apply to the purchase is skipped.
1. Admission (shared.scoring.lookup): one Redis round trip reads the cached wallet->user link and
   blocklist verdicts with the purchase's feature read queued beside them; one PostgreSQL round trip
   reads a stored prediction for this transaction_id and whatever the cache missed (with the
   purchase's signals, and its facts when the feature read missed, pipelined beside it); the rate
   limits (one Lua call, with the cache fill and a feature miss's write-back on its round trip) count
   the request, a retry included. It says what is
   left to do: nothing but the replay (a stored prediction), a decision without a score (a
   blocklisted wallet or IP), or the purchase to score.
2. The model that decides (shared.scoring.models: the served one, or a canary for its share).
3. The features (shared.features.realtime, from the prefetched read; on a miss, from the facts read
   at admission).
4. The cold-start guard's state (shared.scoring.coldstart; re-read every ten minutes).
5. The decision (shared.scoring.decision): BLOCKED without a score, or the model's score and
   contributions, through the guard, the band and top features.
6. The stored prediction (shared.scoring.predictions): a stored one is returned as it is (`replayed`):
   nothing is scored twice; a new one is stored with INSERT ... ON CONFLICT DO NOTHING, and if a
   concurrent request with the same transaction_id won the race, its decision is returned instead.
7. The winner's follow-ups: a shadow candidate's score stored beside it (shared.scoring.rollout), the
   purchase added to the real-time windows.
Round trips per scored request, on a feature-cache hit and on a miss alike: Redis 3 (the reads; the
limits; the purchase recorded) and PostgreSQL 2 (the lookup; the INSERT); a replay Redis 2 and
PostgreSQL 1 (tests/integration/test_scoring_round_trips.py counts them on the wire).

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
from psycopg_pool import PoolTimeout

from shared.db.deadline import deadline_scope
from shared.errors import DependencyUnavailable
from shared.identifiers import canonical_ip
from shared.observability import logger, segment
from shared.scoring import decision, lookup, predictions, rollout, telemetry
from shared.scoring.coldstart import ColdStartGuard
from shared.scoring.models import ServedModels
from shared.scoring.ports import LiveStores, RealtimeFeatures, ScoringDeps
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
    """The steps of one purchase, in the order of the module's docstring: each room is called once, in
    turn; a step that does not apply to this purchase (a replay, a blocklisted one) is skipped."""
    request, session = attempt.request, attempt.session
    try:
        pool = deps.stores.pool()
        with segment("lookup"):
            admitted = lookup.admit(attempt, pool, deps.features, deps.limiter)
        found, purchase = admitted.found, admitted.purchase
        scoring = None
        if purchase is not None:
            choice = deps.models.choose(request.transaction_id)
            attempt.budget.pool_timeout("computing the features")
            with segment("features"):
                features = deps.features.compute(
                    purchase.context,
                    redis=session.client,
                    pool=pool,
                    prefetched=purchase.handle,
                    signals=purchase.signals,
                )
            thresholds = deps.thresholds()
            cut = None
            if deps.cold_start is not None:
                with segment("cold_start"):
                    cut = deps.cold_start.state(pool, attempt.now, thresholds).cut
            scoring = decision.Scoring(choice.model, choice.shadow, features, thresholds, cut)
        new = None
        if found.existing is None:
            with segment("model"):
                new = decision.verdict(
                    request.transaction_id,
                    blocked_by=found.blocked_by,
                    scoring=scoring,
                    served_version=deps.models.version() if scoring is None else scoring.model.version,
                    degraded=session.failed,
                    at=attempt.now,
                )
        with segment("store"):
            response = predictions.settle(attempt, pool, found.existing, new)
        if response.replayed or new is None or scoring is None or purchase is None:
            return response
        rollout.store_shadow(attempt, pool, scoring.model.version, new.shadow)
        if response.decision is not Decision.BLOCKED:
            session.run(partial(deps.features.record_purchase, purchase.context))
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DependencyUnavailable("PostgreSQL is unavailable") from exc
    return (
        response.model_copy(update={"degraded": True})
        if session.failed and not response.degraded
        else response
    )

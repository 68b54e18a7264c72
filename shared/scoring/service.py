"""Request -> blocklist -> features -> model -> decision -> stored prediction -> response.

The order of one scoring request:
1. Redis (one MGET): cached wallet->user link and blocklist verdicts for the wallet and the IP;
   the feature read (shared.features.realtime.queue_read) rides in the same round trip.
2. PostgreSQL (one query): a stored prediction for this transaction_id (idempotency), plus whatever
   the cache missed (the cache is then filled, briefly: a new blocklist entry applies within 30 s).
3. Rate limits (one Lua call, in the same round trip as the cache fill): client IP, user, purchase
   route. A retry counts as a request.
4. A stored prediction -> returned as it is (`replayed`), nothing is scored twice.
5. Blocklisted wallet or IP -> BLOCKED without scoring, `reason` says which.
6. Features (shared.features.realtime, from the prefetched read; PostgreSQL on a miss), the model,
   the decision band, the top features.
Redis round trips per request: 3 when the caches hit (7 before), +1 on a feature-cache miss.
7. INSERT ... ON CONFLICT DO NOTHING: if a concurrent request with the same transaction_id won the
   race, its decision is returned instead; only the winner updates the real-time windows.

Degraded: any Redis failure switches Redis off for the rest of the request (and, through the
circuit breaker, for a second); PostgreSQL then serves everything and the response says
`degraded: true`. PostgreSQL down -> DependencyUnavailable (503), or with Settings.fail_open a
REQUIRE_2FA decision that is not stored.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import psycopg
import redis
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from shared.api.errors import ModelUnavailable
from shared.api.models import Decision, PredictRequest, PredictResponse, Reason
from shared.config import Settings, Thresholds, get_settings, get_thresholds
from shared.errors import (
    ConfigurationError,
    Conflict,
    DependencyUnavailable,
    ModelIntegrityError,
    RateLimited,
    TicketGuardError,
)
from shared.observability import logger
from shared.ratelimit import RateLimiter
from shared.ratelimit.limiter import PREDICT_ROUTE
from shared.scoring import telemetry
from shared.scoring.clients import get_redis, mark_redis_down
from shared.scoring.decision import confidence, decide, top_features

BLOCKLIST_CACHE_TTL_S = 30
WALLET_USER_CACHE_TTL_S = 300
NO_MODEL_VERSION = "none"
MODEL_RECHECK_S = 1.0


class FeatureResultLike(Protocol):
    values: dict[str, float | None]
    degraded: bool


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
    # Queues the feature read on the cache read's pipeline (one round trip for both); its handle,
    # with the reply set, goes to compute_features as `prefetched`. None: features read on their own.
    queue_feature_read: Callable[[Any, Any], Any] | None = None
    # (monotonic time, model) of the last successful load_model(); see _model_or_unavailable.
    model_memo: tuple[float, ModelLike] | None = field(default=None, init=False, repr=False)
    settings: Callable[[], Settings] = get_settings
    thresholds: Callable[[], Thresholds] = get_thresholds


def default_deps() -> ScoringDeps:
    from shared.db import get_pool
    from shared.features.realtime import (
        ScoringContext,
        compute_realtime_features,
        queue_read,
        record_purchase,
    )
    from shared.model import load_model

    return ScoringDeps(
        pool=get_pool,
        redis=get_redis,
        compute_features=compute_realtime_features,
        record_purchase=record_purchase,
        make_context=ScoringContext,
        load_model=load_model,
        queue_feature_read=queue_read,
    )


@dataclass
class _Lookup:
    existing: dict[str, Any] | None
    user_id: int | None
    wallet_blocked: bool
    ip_blocked: bool


class _RedisSession:
    """Redis for one request: the first failure turns it off for the rest of the request."""

    def __init__(self, client: redis.Redis | None) -> None:
        self.client = client
        self.failed = client is None

    def run(self, action: Callable[[redis.Redis], Any]) -> Any:
        if self.client is None:
            return None
        try:
            return action(self.client)
        except (redis.RedisError, OSError) as exc:
            logger.warning("redis unavailable, continuing on PostgreSQL", extra={"error": type(exc).__name__})
            mark_redis_down()
            self.client = None
            self.failed = True
            return None


class _Budget:
    """Settings.request_timeout_s for the whole request: checked before each PostgreSQL step, and the
    pool wait never exceeds what is left. With each statement capped by the statement timeout and
    Redis by its socket timeout, no request outlives the budget by more than one statement."""

    def __init__(self, started: float, settings: Settings) -> None:
        self.deadline = started + settings.request_timeout_s
        self.total_s = settings.request_timeout_s
        self.pool_wait_s = settings.db_connect_timeout_s

    def pool_timeout(self, step: str) -> float:
        remaining = self.deadline - time.perf_counter()
        if remaining <= 0:
            raise DependencyUnavailable(f"the request used its {self.total_s:g} s budget before {step}")
        return min(self.pool_wait_s, remaining)


def normalize_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        return ipaddress.ip_address(ip.strip()).compressed
    except ValueError:
        return None


def hash_ip(ip: str | None, salt: str) -> str | None:
    return hashlib.sha256(f"{salt}:{ip}".encode()).hexdigest() if ip else None


_PREDICTION_COLUMNS = (
    "transaction_id, wallet_address, ticket_id, price_paid, fraud_score, decision, confidence, "
    "top_features, model_version, reason, degraded, created_at"
)


def _lookup(
    pool: ConnectionPool,
    request: PredictRequest,
    ip: str | None,
    cached: dict[str, str | None],
    budget: _Budget,
) -> _Lookup:
    need_user = cached["user"] is None
    need_wallet_bl = cached["wallet_bl"] is None
    need_ip_bl = ip is not None and cached["ip_bl"] is None
    live = "(expires_at IS NULL OR expires_at > now())"
    sql = f"""
        SELECT
          (SELECT row_to_json(p) FROM (SELECT {_PREDICTION_COLUMNS} FROM intel.fraud_predictions
                                       WHERE transaction_id = %(txn)s) p) AS existing,
          {"(SELECT user_id FROM intel.wallets WHERE address = %(wallet)s)" if need_user else "NULL::bigint"} AS user_id,
          {f"EXISTS (SELECT 1 FROM intel.blocklist WHERE kind = 'wallet' AND value = %(wallet)s AND {live})" if need_wallet_bl else "NULL::boolean"} AS wallet_blocked,
          {f"EXISTS (SELECT 1 FROM intel.blocklist WHERE kind = 'ip' AND value = %(ip)s AND {live})" if need_ip_bl else "NULL::boolean"} AS ip_blocked
    """
    params = {"txn": request.transaction_id, "wallet": request.wallet_address, "ip": ip}
    with pool.connection(timeout=budget.pool_timeout("the lookup")) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    existing, user_id, wallet_blocked, ip_blocked = row
    if not need_user:
        user_id = int(cached["user"]) if cached["user"] else None
    if not need_wallet_bl:
        wallet_blocked = cached["wallet_bl"] == "1"
    if not need_ip_bl:
        ip_blocked = cached["ip_bl"] == "1"
    return _Lookup(existing, user_id, bool(wallet_blocked), bool(ip_blocked))


def _cache_keys(wallet: str, ip: str | None) -> list[str]:
    return [f"tg:wu:{wallet}", f"tg:bl:w:{wallet}", f"tg:bl:ip:{ip or '-'}"]


def _read_cache(
    session: _RedisSession, wallet: str, ip: str | None, queue_more: Callable[[Any], object] | None = None
) -> dict[str, str | None]:
    """The cached lookups (one MGET); `queue_more` adds the caller's reads to the same round trip
    (their replies are set on what it returns, an exception reply left for the reader to handle)."""

    def read(client: redis.Redis) -> list[Any]:
        if queue_more is None:
            return list(client.mget(_cache_keys(wallet, ip)))
        pipe = client.pipeline(transaction=False)
        pipe.mget(_cache_keys(wallet, ip))
        handle = queue_more(pipe)
        mget_reply, more_reply = pipe.execute(raise_on_error=False)
        if isinstance(mget_reply, Exception):
            raise mget_reply
        handle.reply = more_reply  # type: ignore[attr-defined]
        return list(mget_reply)

    values = session.run(read) or [None, None, None]
    decoded = [value.decode() if isinstance(value, bytes) else value for value in values]
    return {"user": decoded[0], "wallet_bl": decoded[1], "ip_bl": decoded[2]}


def _cache_fill(
    wallet: str, ip: str | None, cached: dict[str, str | None], found: _Lookup
) -> Callable[[Any], None] | None:
    """The cache writes the lookup calls for, as commands to queue on a pipeline (sent together with
    the rate-limit script: one round trip); None when the cache had everything."""
    user_key, wallet_key, ip_key = _cache_keys(wallet, ip)
    writes: list[tuple[str, int, str]] = []
    if cached["user"] is None:
        # "" = "no user linked yet"; cached too, so unknown wallets cost no query for a while
        writes.append((user_key, WALLET_USER_CACHE_TTL_S, str(found.user_id or "")))
    if cached["wallet_bl"] is None:
        writes.append((wallet_key, BLOCKLIST_CACHE_TTL_S, "1" if found.wallet_blocked else "0"))
    if ip is not None and cached["ip_bl"] is None:
        writes.append((ip_key, BLOCKLIST_CACHE_TTL_S, "1" if found.ip_blocked else "0"))
    if not writes:
        return None

    def queue(pipe: Any) -> None:
        for key, ttl, value in writes:
            pipe.setex(key, ttl, value)

    return queue


def _stored_response(row: dict[str, Any], *, replayed: bool) -> PredictResponse:
    top = row["top_features"]
    return PredictResponse(
        transaction_id=row["transaction_id"],
        fraud_score=row["fraud_score"],
        decision=Decision(row["decision"]),
        confidence=row["confidence"] if row["confidence"] is not None else 0.0,
        top_features=json.loads(top) if isinstance(top, str) else top,
        model_version=row["model_version"],
        reason=Reason(row["reason"]),
        degraded=bool(row["degraded"]),
        replayed=replayed,
        scored_at=row["created_at"]
        if isinstance(row["created_at"], datetime)
        else datetime.fromisoformat(row["created_at"]),
    )


def _check_same_request(row: dict[str, Any], request: PredictRequest) -> None:
    same = (
        row["wallet_address"] == request.wallet_address
        and str(row["ticket_id"]) == str(request.ticket_id)
        and round(float(row["price_paid"]), 2) == round(request.price_paid, 2)
    )
    if not same:
        raise Conflict(
            "transaction_id was already scored with a different wallet, ticket or price",
            field="transaction_id",
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


def _store(
    pool: ConnectionPool,
    request: PredictRequest,
    response: PredictResponse,
    features: dict[str, float | None],
    ip_hash: str | None,
    latency_ms: float,
    budget: _Budget,
) -> dict[str, Any] | None:
    """Insert the prediction; None when another request stored this transaction_id first."""
    with pool.connection(timeout=budget.pool_timeout("storing the decision")) as conn:
        row = conn.execute(
            # Asynchronous commit for this one statement (SET LOCAL through set_config): the request
            # does not wait for the WAL flush. A crash may lose the last few stored decisions (never
            # half of one); a retry of such a transaction is then scored again. That is the trade for
            # a millisecond per request; every other write keeps synchronous commit.
            """INSERT INTO intel.fraud_predictions
                   (transaction_id, wallet_address, ticket_id, price_paid, fraud_score, decision,
                    confidence, reason, features, top_features, model_version, degraded,
                    client_ip_hash, latency_ms, created_at)
               SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s
                 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
               ON CONFLICT (transaction_id) DO NOTHING
               RETURNING prediction_id""",
            (
                request.transaction_id,
                request.wallet_address,
                str(request.ticket_id),
                round(request.price_paid, 2),
                response.fraud_score,
                response.decision.value,
                response.confidence,
                response.reason.value,
                json.dumps(features),
                json.dumps(response.top_features),
                response.model_version,
                response.degraded,
                ip_hash,
                round(latency_ms, 3),
                response.scored_at,
            ),
        ).fetchone()
        if row is not None:
            return None
        winner = conn.cursor(row_factory=dict_row).execute(
            f"SELECT {_PREDICTION_COLUMNS} FROM intel.fraud_predictions WHERE transaction_id = %s",
            (request.transaction_id,),
        )
        return winner.fetchone()


def score_transaction(
    request: PredictRequest,
    *,
    client_ip: str | None,
    deps: ScoringDeps | None = None,
    now: datetime | None = None,
) -> PredictResponse:
    """Decide on one purchase. Raises the domain errors the API maps (RateLimited, NotFound, Conflict,
    DependencyUnavailable, ModelUnavailable)."""
    started = time.perf_counter()
    deps = deps or _default_deps()
    settings = deps.settings()
    ip = normalize_ip(client_ip)
    try:
        response = _score(request, ip, deps, settings, started, now or datetime.now(UTC))
    except DependencyUnavailable:
        telemetry.record_count("DependencyUnavailable")
        if not settings.fail_open:
            raise
        response = _fail_open(request, deps, now or datetime.now(UTC))
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
    )


_deps_cache: list[ScoringDeps] = []


def _default_deps() -> ScoringDeps:
    if not _deps_cache:
        _deps_cache.append(default_deps())
    return _deps_cache[0]


def reset_default_deps() -> None:
    _deps_cache.clear()


def _fail_open(request: PredictRequest, deps: ScoringDeps, now: datetime) -> PredictResponse:
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
    )


def _score(
    request: PredictRequest,
    ip: str | None,
    deps: ScoringDeps,
    settings: Settings,
    started: float,
    now: datetime,
) -> PredictResponse:
    session = _RedisSession(deps.redis())
    budget = _Budget(started, settings)
    try:
        pool = deps.pool()
        prefetch = _feature_prefetch(request, ip, deps, now)
        cached = _read_cache(
            session,
            request.wallet_address,
            ip,
            None
            if prefetch is None or deps.queue_feature_read is None
            else partial(_queue_prefetch, prefetch, deps.queue_feature_read),
        )
        found = _lookup(pool, request, ip, cached, budget)
        fill = _cache_fill(request.wallet_address, ip, cached, found)
        decision = session.run(
            lambda client: deps.limiter.hit(
                client,
                PREDICT_ROUTE,
                ip=ip,
                user=str(found.user_id) if found.user_id else None,
                wallet=request.wallet_address,
                along=fill,
            )
        )
        if decision is not None and not decision.allowed:
            telemetry.record_count("RateLimited")
            raise RateLimited(
                f"rate limit '{decision.rule}' exceeded; retry after {decision.retry_after_s} s",
                retry_after_s=decision.retry_after_s,
            )

        if found.existing is not None:
            _check_same_request(found.existing, request)
            return _stored_response(found.existing, replayed=True)

        if found.wallet_blocked or found.ip_blocked:
            return _blocked(request, ip, deps, pool, session, started, now, found, budget)

        model = _model_or_unavailable(deps)
        if prefetch is not None:
            context = prefetch.context
            budget.pool_timeout("computing the features")
            features = deps.compute_features(
                context, redis=session.client, pool=pool, prefetched=prefetch.handle
            )
        else:
            context = _scoring_context(deps, request, ip, now)
            budget.pool_timeout("computing the features")
            features = deps.compute_features(context, redis=session.client, pool=pool)
        vector = [features.values.get(name) for name in model.feature_names]
        # Rounded once, before deciding: the band always follows from the score the client sees.
        score = round(min(1.0, max(0.0, float(model.predict(vector)))), 6)
        thresholds = deps.thresholds()
        response = PredictResponse(
            transaction_id=request.transaction_id,
            fraud_score=score,
            decision=decide(score, thresholds),
            confidence=confidence(score, thresholds),
            top_features=top_features(model.contributions(vector), model.feature_names, features.values),
            model_version=model.version,
            reason=Reason.MODEL,
            degraded=bool(features.degraded) or session.failed,
            replayed=False,
            scored_at=now,
        )
        latency_ms = (time.perf_counter() - started) * 1000
        winner = _store(
            pool,
            request,
            response,
            dict(features.values),
            hash_ip(ip, settings.log_pii_salt),
            latency_ms,
            budget,
        )
        if winner is not None:
            _check_same_request(winner, request)
            return _stored_response(winner, replayed=True)
        if response.decision is not Decision.BLOCKED:
            session.run(lambda client: deps.record_purchase(context, client))
        if session.failed and not response.degraded:
            response = response.model_copy(update={"degraded": True})
        return response
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DependencyUnavailable("PostgreSQL is unavailable") from exc


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


def _queue_prefetch(prefetch: _Prefetch, queue_read: Callable[[Any, Any], Any], pipe: Any) -> Any:
    prefetch.handle = queue_read(prefetch.context, pipe)
    return prefetch.handle


def _blocked(
    request: PredictRequest,
    ip: str | None,
    deps: ScoringDeps,
    pool: ConnectionPool,
    session: _RedisSession,
    started: float,
    now: datetime,
    found: _Lookup,
    budget: _Budget,
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
    winner = _store(
        pool,
        request,
        response,
        {},
        hash_ip(ip, deps.settings().log_pii_salt),
        (time.perf_counter() - started) * 1000,
        budget,
    )
    if winner is not None:
        _check_same_request(winner, request)
        return _stored_response(winner, replayed=True)
    return response

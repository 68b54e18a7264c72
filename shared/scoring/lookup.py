"""The scoring request's state and its reads and writes: the per-request Redis session and time
budget, the one lookup (stored prediction, wallet->user link, blocklists) with its cache, and the
stored predictions (idempotency on transaction_id)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import redis
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from shared.cache import keys
from shared.cache.clients import mark_redis_down, mark_redis_up
from shared.cache.roundtrip import RoundTrip
from shared.config import Settings
from shared.errors import Conflict, DependencyUnavailable
from shared.observability import logger
from shared.scoring.types import Decision, PredictRequest, PredictResponse, RateLimitMode, Reason


@dataclass
class Lookup:
    existing: dict[str, Any] | None
    user_id: int | None
    wallet_blocked: bool
    ip_blocked: bool


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


def hash_ip(ip: str | None, salt: str) -> str | None:
    return hashlib.sha256(f"{salt}:{ip}".encode()).hexdigest() if ip else None


PREDICTION_COLUMNS = (
    "transaction_id, wallet_address, ticket_id, price_paid, fraud_score, decision, confidence, "
    "top_features, model_version, reason, degraded, created_at"
)


def lookup(
    pool: ConnectionPool,
    request: PredictRequest,
    ip: str | None,
    cached: dict[str, str | None],
    budget: Budget,
) -> Lookup:
    need_user = cached["user"] is None
    need_wallet_bl = cached["wallet_bl"] is None
    need_ip_bl = ip is not None and cached["ip_bl"] is None
    live = "(expires_at IS NULL OR expires_at > now())"
    sql = f"""
        SELECT
          (SELECT row_to_json(p) FROM (SELECT {PREDICTION_COLUMNS} FROM intel.fraud_predictions
                                       WHERE transaction_id = %(txn)s) p) AS existing,
          {"(SELECT user_id FROM intel.wallets WHERE address = %(wallet)s)" if need_user else "NULL::bigint"} AS user_id,
          {f"EXISTS (SELECT 1 FROM intel.blocklist WHERE kind = 'wallet' AND value = %(wallet)s AND {live})" if need_wallet_bl else "NULL::boolean"} AS wallet_blocked,
          {f"EXISTS (SELECT 1 FROM intel.blocklist WHERE kind = 'ip' AND value::cidr >>= %(ip)s::inet AND {live})" if need_ip_bl else "NULL::boolean"} AS ip_blocked
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
    return Lookup(existing, user_id, bool(wallet_blocked), bool(ip_blocked))


def cache_keys(wallet: str, ip: str | None) -> list[str]:
    return [keys.WALLET_USER.key(wallet), keys.BLOCKLIST_WALLET.key(wallet), keys.BLOCKLIST_IP.key(ip or "-")]


def _decoded(values: Any) -> list[str | None]:
    return [value.decode() if isinstance(value, bytes) else value for value in values]


def read_cache(
    session: RedisSession,
    wallet: str,
    ip: str | None,
    queue_more: Callable[[RoundTrip], object] | None = None,
) -> dict[str, str | None]:
    """The cached lookups (one MGET); `queue_more` adds the caller's reads to the same round trip
    (their replies reach the handles it keeps, an exception reply left for their reader to handle)."""

    def read(client: redis.Redis) -> list[str | None]:
        trip = RoundTrip(client)
        cached = trip.queue(lambda pipe: pipe.mget(cache_keys(wallet, ip)), parse=_decoded)
        if queue_more is not None:
            queue_more(trip)
        trip.execute()
        return cached.result()

    values = session.run(read) or [None, None, None]
    return {"user": values[0], "wallet_bl": values[1], "ip_bl": values[2]}


def cache_fill(
    wallet: str, ip: str | None, cached: dict[str, str | None], found: Lookup
) -> Callable[[RoundTrip], None] | None:
    """The cache writes the lookup calls for, to queue on a round trip (sent together with the
    rate-limit script); None when the cache had everything."""
    user_key, wallet_key, ip_key = cache_keys(wallet, ip)
    writes: list[tuple[str, int, str]] = []
    if cached["user"] is None:
        # "" = "no user linked yet"; cached too, so unknown wallets cost no query for a while
        writes.append((user_key, keys.WALLET_USER_CACHE_TTL_S, str(found.user_id or "")))
    if cached["wallet_bl"] is None:
        writes.append((wallet_key, keys.BLOCKLIST_CACHE_TTL_S, "1" if found.wallet_blocked else "0"))
    if ip is not None and cached["ip_bl"] is None:
        writes.append((ip_key, keys.BLOCKLIST_CACHE_TTL_S, "1" if found.ip_blocked else "0"))
    if not writes:
        return None

    def queue(trip: RoundTrip) -> None:
        for key, ttl, value in writes:
            trip.write(partial(_setex, key=key, ttl=ttl, value=value))

    return queue


def _setex(pipe: Any, *, key: str, ttl: int, value: str) -> None:
    pipe.setex(key, ttl, value)


def stored_response(row: dict[str, Any], *, replayed: bool) -> PredictResponse:
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


def check_same_request(row: dict[str, Any], request: PredictRequest) -> None:
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


def store_prediction(
    pool: ConnectionPool,
    request: PredictRequest,
    response: PredictResponse,
    features: dict[str, float | None],
    ip_hash: str | None,
    latency_ms: float,
    budget: Budget,
    *,
    model_score: float | None = None,
) -> dict[str, Any] | None:
    """Insert the prediction; None when another request stored this transaction_id first.
    `model_score`: the model's own score when the cold-start guard moved the client's (kept apart, so
    that the guard measures the model, not itself)."""
    with pool.connection(timeout=budget.pool_timeout("storing the decision")) as conn:
        row = conn.execute(
            # Asynchronous commit for this one statement (SET LOCAL through set_config): the request
            # does not wait for the WAL flush. A crash may lose the last few stored decisions (never
            # half of one); a retry of such a transaction is then scored again. That is the trade for
            # a millisecond per request; every other write keeps synchronous commit.
            """INSERT INTO intel.fraud_predictions
                   (transaction_id, wallet_address, ticket_id, price_paid, fraud_score, decision,
                    confidence, reason, features, top_features, model_version, degraded,
                    client_ip_hash, latency_ms, created_at, model_score)
               SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s
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
                model_score,
            ),
        ).fetchone()
        if row is not None:
            return None
        winner = conn.cursor(row_factory=dict_row).execute(
            f"SELECT {PREDICTION_COLUMNS} FROM intel.fraud_predictions WHERE transaction_id = %s",
            (request.transaction_id,),
        )
        return winner.fetchone()

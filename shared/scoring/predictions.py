"""The stored predictions (intel.fraud_predictions): idempotency on transaction_id. A purchase is
decided once; a retry, or a concurrent request that lost the race to store it, gets the stored
decision back (`replayed`), after checking that it asks about the same wallet, ticket and price.
`settle` is the storing step of a request (shared.scoring.service): the stored decision that admission
found, or the new one stored."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from shared.errors import Conflict
from shared.observability.pii import pii_salt
from shared.scoring.decision import Verdict
from shared.scoring.session import Attempt
from shared.scoring.types import Decision, PredictRequest, PredictResponse, Reason

PREDICTION_COLUMNS = (
    "transaction_id, wallet_address, ticket_id, price_paid, fraud_score, decision, confidence, "
    "top_features, model_version, reason, degraded, created_at"
)

INSERT_SQL = """INSERT INTO intel.fraud_predictions
       (transaction_id, wallet_address, ticket_id, price_paid, fraud_score, decision,
        confidence, reason, features, top_features, model_version, degraded,
        client_ip_hash, latency_ms, created_at, model_score)
   SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s
     FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
   ON CONFLICT (transaction_id) DO NOTHING
   RETURNING prediction_id"""


def hash_ip(ip: str | None, salt: str) -> str | None:
    return hashlib.sha256(f"{salt}:{ip}".encode()).hexdigest() if ip else None


def replay(row: dict[str, Any], request: PredictRequest) -> PredictResponse:
    """The stored decision on this transaction, for a request that asks the same question."""
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
    top = row["top_features"]
    created = row["created_at"]
    return PredictResponse(
        transaction_id=row["transaction_id"],
        fraud_score=row["fraud_score"],
        decision=Decision(row["decision"]),
        confidence=row["confidence"] if row["confidence"] is not None else 0.0,
        top_features=json.loads(top) if isinstance(top, str) else top,
        model_version=row["model_version"],
        reason=Reason(row["reason"]),
        degraded=bool(row["degraded"]),
        replayed=True,
        scored_at=created if isinstance(created, datetime) else datetime.fromisoformat(created),
    )


def settle(
    attempt: Attempt, pool: ConnectionPool, existing: dict[str, Any] | None, new: Verdict | None
) -> PredictResponse:
    """The decision this request answers: the one stored before it (`existing`, found at admission),
    else the `new` one, stored."""
    if existing is not None:
        return replay(existing, attempt.request)
    assert new is not None, "a purchase without a stored decision was decided"
    return store(attempt, pool, new)


def store(attempt: Attempt, pool: ConnectionPool, new: Verdict) -> PredictResponse:
    """Store the decision and return it; when another request stored this transaction_id first, its
    decision instead (`replayed`). The model's own score is stored beside the client's (which the
    cold-start guard may have moved), so that the guard measures the model, not itself."""
    request, response = attempt.request, new.response
    values = (
        request.transaction_id,
        request.wallet_address,
        str(request.ticket_id),
        round(request.price_paid, 2),
        response.fraud_score,
        response.decision.value,
        response.confidence,
        response.reason.value,
        json.dumps(new.features),
        json.dumps(response.top_features),
        response.model_version,
        response.degraded,
        hash_ip(attempt.ip, pii_salt()),
        round(attempt.elapsed_ms(), 3),
        response.scored_at,
        new.model_score,
    )
    with pool.connection(timeout=attempt.budget.pool_timeout("storing the decision")) as conn:
        # Asynchronous commit for this one statement (SET LOCAL through set_config): the request does
        # not wait for the WAL flush. A crash may lose the last few stored decisions (never half of
        # one); a retry of such a transaction is then scored again. That is the trade for a
        # millisecond per request; every other write keeps synchronous commit.
        if conn.execute(INSERT_SQL, values).fetchone() is not None:
            return response
        winner = conn.cursor(row_factory=dict_row).execute(
            f"SELECT {PREDICTION_COLUMNS} FROM intel.fraud_predictions WHERE transaction_id = %s",
            (request.transaction_id,),
        )
        row = winner.fetchone()
    return response if row is None else replay(row, request)

"""Scoring with the real pieces: PostgreSQL, Redis, the ETL's real-time features and the shipped model."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from shared.api.models import Decision, PredictRequest, Reason
from shared.cache.keys import VELOCITY
from shared.config import get_settings, get_thresholds
from shared.errors import Conflict, DependencyUnavailable, RateLimited
from shared.features.definitions import MODEL_FEATURES
from shared.scoring.decision import decide
from shared.scoring.service import score_transaction
from tests.fixtures.api import Market, reset_api_state

CLIENT_IP = "203.0.113.50"


def _request(
    market: Market, txn: str, *, wallet: str | None = None, ticket: int | None = None, price: float = 80.0
):
    return PredictRequest(
        transaction_id=txn,
        wallet_address=wallet or market.honest_wallet,
        ticket_id=ticket or market.ticket_ids[0],
        price_paid=price,
    )


def _stored(db: psycopg.Connection, txn: str) -> list[tuple]:
    return db.execute(
        """SELECT decision, fraud_score, reason, degraded, model_version, features, top_features,
                  client_ip_hash, latency_ms
             FROM intel.fraud_predictions WHERE transaction_id = %s""",
        (txn,),
    ).fetchall()


@pytest.fixture
def scoring(db: psycopg.Connection, redis_url: str, api_market: Market, api_state: None) -> Market:
    return api_market


def test_given_known_ticket_when_scored_then_model_decides_and_prediction_is_stored(
    scoring: Market, db: psycopg.Connection
) -> None:
    # When an honest purchase is scored
    response = score_transaction(_request(scoring, "t-ok"), client_ip=CLIENT_IP)
    # Then the model decided, in the band its score falls in, with a confidence and a version
    assert response.reason is Reason.MODEL and response.fraud_score is not None
    assert response.decision is decide(response.fraud_score, get_thresholds())
    assert 0.5 <= response.confidence <= 1.0
    assert response.model_version and response.model_version != "none"
    assert not response.replayed and not response.degraded
    # And the prediction is stored with its features, model version and no IP in clear
    [row] = _stored(db, "t-ok")
    decision, score, reason, degraded, version, features, top, ip_hash, latency = row
    assert (decision, reason, version) == (response.decision.value, "model", response.model_version)
    assert score == response.fraud_score and degraded is False and top == response.top_features
    assert set(features) >= set(response.top_features)
    assert set(features) == set(MODEL_FEATURES)  # every feature the service computes, stored
    assert ip_hash and CLIENT_IP not in ip_hash
    assert latency is not None and latency > 0


def test_given_retry_with_same_transaction_when_scored_then_stored_decision_returned_once(
    scoring: Market, db: psycopg.Connection, redis_client
) -> None:
    # Given a scored transaction
    first = score_transaction(_request(scoring, "t-retry"), client_ip=CLIENT_IP)
    # When the marketplace retries it
    second = score_transaction(_request(scoring, "t-retry"), client_ip=CLIENT_IP)
    # Then the stored decision comes back, flagged as a replay, and nothing was scored twice
    assert second.replayed and not first.replayed
    assert (second.decision, second.fraud_score, second.top_features) == (
        first.decision,
        first.fraud_score,
        first.top_features,
    )
    assert len(_stored(db, "t-retry")) == 1
    # And the purchase entered the wallet's real-time window once, not twice
    purchases = redis_client.zrangebyscore(VELOCITY.key(scoring.honest_wallet), "(0", "+inf")
    assert len(purchases) == 1


def test_given_same_transaction_with_other_payload_when_scored_then_conflict(scoring: Market) -> None:
    score_transaction(_request(scoring, "t-conflict"), client_ip=CLIENT_IP)
    with pytest.raises(Conflict) as caught:
        score_transaction(_request(scoring, "t-conflict", price=999.0), client_ip=CLIENT_IP)
    assert caught.value.field == "transaction_id"


def test_given_concurrent_retries_when_scored_then_one_row_and_one_decision(
    scoring: Market, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 8 identical requests racing (retries count against the purchase limit: raise it)
    monkeypatch.setenv("TG_RATELIMIT_PURCHASE_PER_MINUTE", "100")
    reset_api_state()
    barrier = threading.Barrier(8)

    def race(_: int):
        barrier.wait()
        return score_transaction(_request(scoring, "t-race"), client_ip=CLIENT_IP)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(race, range(8)))
    # Then one row, every caller got the same decision, and only one response is the original
    assert len(_stored(db, "t-race")) == 1
    assert len({(r.decision, r.fraud_score) for r in responses}) == 1
    assert sum(1 for r in responses if not r.replayed) == 1


@pytest.mark.parametrize(
    ("kind", "reason"), [("wallet", Reason.BLOCKLIST_WALLET), ("ip", Reason.BLOCKLIST_IP)]
)
def test_given_blocklisted_wallet_or_ip_when_scored_then_blocked_without_scoring(
    scoring: Market, db: psycopg.Connection, kind: str, reason: Reason
) -> None:
    # Given a blocklist entry for the buyer's wallet or IP
    value = scoring.honest_wallet if kind == "wallet" else CLIENT_IP
    db.execute(
        "INSERT INTO intel.blocklist (kind, value, reason, source) VALUES (%s, %s, 'test', 'analyst')",
        (kind, value),
    )
    # When the purchase is scored
    response = score_transaction(_request(scoring, f"t-bl-{kind}"), client_ip=CLIENT_IP)
    # Then it is BLOCKED by the rule, says so, and carries no model score
    assert response.decision is Decision.BLOCKED and response.reason is reason
    assert response.fraud_score is None and response.top_features == {}
    assert response.confidence == 1.0
    [row] = _stored(db, f"t-bl-{kind}")
    assert row[0] == "BLOCKED" and row[2] == reason.value


def test_given_expired_blocklist_entry_when_scored_then_model_decides(
    scoring: Market, db: psycopg.Connection
) -> None:
    db.execute(
        """INSERT INTO intel.blocklist (kind, value, reason, source, expires_at)
           VALUES ('wallet', %s, 'old', 'analyst', now() - interval '1 hour')""",
        (scoring.honest_wallet,),
    )
    assert score_transaction(_request(scoring, "t-expired"), client_ip=CLIENT_IP).reason is Reason.MODEL


def test_given_blocklist_verdict_cached_when_entry_added_then_applies_after_cache_expiry(
    scoring: Market, db: psycopg.Connection, redis_client
) -> None:
    # Given a first request that cached "not blocklisted" for the wallet
    score_transaction(_request(scoring, "t-cache-1"), client_ip=CLIENT_IP)
    db.execute(
        "INSERT INTO intel.blocklist (kind, value, reason, source) VALUES ('wallet', %s, 'x', 'soar')",
        (scoring.honest_wallet,),
    )
    # When the cache entry expires (deleted here instead of waiting 30 s)
    redis_client.delete(f"tg:bl:w:{scoring.honest_wallet}")
    # Then the new entry applies
    response = score_transaction(
        _request(scoring, "t-cache-2", ticket=scoring.ticket_ids[1]), client_ip=CLIENT_IP
    )
    assert response.reason is Reason.BLOCKLIST_WALLET


def test_given_unknown_ticket_when_scored_then_decided_and_stored_saying_what_was_unavailable(
    scoring: Market, db: psycopg.Connection
) -> None:
    # Given a ticket the service has not seen yet (issue 11: never a 404 for a well-formed id)
    response = score_transaction(_request(scoring, "t-unknown", ticket=999_999), client_ip=CLIENT_IP)
    # Then the model decided from what is known, the response says what was not, and it is stored
    assert response.reason is Reason.MODEL and response.fraud_score is not None
    assert response.unavailable_features == [
        "event_popularity_score",
        "price_deviation_ratio",
        "resale_time",
        "instrument_wallets_7d",  # the served model reads it; the request gave no payment_fingerprint
    ]
    [row] = _stored(db, "t-unknown")
    features = row[5] if isinstance(row[5], dict) else json.loads(row[5])
    assert features["resale_time"] is None and features["event_popularity_score"] is None


def test_given_a_buyer_ip_when_scored_then_the_ip_limit_and_blocklist_use_it_not_the_callers(
    scoring: Market, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the marketplace backend's own address as the caller, and an IP limit of 2 a minute
    monkeypatch.setenv("TG_RATELIMIT_IP_PER_MINUTE", "2")
    reset_api_state()
    backend = "10.0.0.5"
    wallets = ["0x" + f"{i:02x}" * 20 for i in range(30, 37)]

    def buy(i: int, buyer_ip: str) -> object:
        request = PredictRequest(
            transaction_id=f"t-bip-{i}",
            wallet_address=wallets[i],
            ticket_id=scoring.ticket_ids[i],
            price_paid=80.0,
            buyer_ip=buyer_ip,
        )
        return score_transaction(request, client_ip=backend)

    # When four distinct buyers buy through the same backend, Then none is throttled by the IP limit
    for i in range(4):
        buy(i, f"198.51.100.{i + 1}")
    # And one buyer IP over its limit is
    buy(4, "198.51.100.77")
    buy(5, "198.51.100.77")
    with pytest.raises(RateLimited):
        buy(6, "198.51.100.77")
    # And a blocklisted buyer IP is blocked even though the caller's address is not listed
    db.execute(
        "INSERT INTO intel.blocklist (kind, value, reason, source) VALUES ('ip', '198.51.100.88', 'x', 'soar')"
    )
    request = PredictRequest(
        transaction_id="t-bip-bl",
        wallet_address="0x" + "77" * 20,
        ticket_id=scoring.ticket_ids[9],
        price_paid=80.0,
        buyer_ip="198.51.100.88",
    )
    blocked = score_transaction(request, client_ip=backend)
    assert blocked.reason is Reason.BLOCKLIST_IP


def test_given_six_purchases_in_a_minute_when_scored_then_sixth_is_rate_limited(scoring: Market) -> None:
    for i in range(5):
        score_transaction(_request(scoring, f"t-rl-{i}", ticket=scoring.ticket_ids[i]), client_ip=CLIENT_IP)
    with pytest.raises(RateLimited) as caught:
        score_transaction(_request(scoring, "t-rl-5", ticket=scoring.ticket_ids[5]), client_ip=CLIENT_IP)
    assert caught.value.retry_after_s >= 1


def test_given_redis_down_when_scored_then_postgres_serves_and_response_is_degraded(
    scoring: Market, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    # Given REDIS_URL pointing at a socket nobody listens on
    monkeypatch.setenv("REDIS_URL", f"unix://{tmp_path}/dead.sock")
    get_settings.cache_clear()
    reset_api_state()
    # When a purchase is scored
    response = score_transaction(_request(scoring, "t-degraded"), client_ip=CLIENT_IP)
    # Then the model still decided, from PostgreSQL features, and the answer says it was degraded
    assert response.reason is Reason.MODEL and response.degraded
    [row] = _stored(db, "t-degraded")
    assert row[3] is True


@pytest.fixture
def dead_postgres(
    scoring: Market, refusing_postgres: None, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """PostgreSQL and Redis both unreachable (a closed port and a dead socket), short timeouts."""
    monkeypatch.setenv("REDIS_URL", f"unix://{tmp_path}/dead.sock")
    get_settings.cache_clear()
    reset_api_state()


def test_given_postgres_and_redis_down_when_scored_then_dependency_unavailable(
    scoring: Market, dead_postgres: None
) -> None:
    with pytest.raises(DependencyUnavailable):
        score_transaction(_request(scoring, "t-down"), client_ip=CLIENT_IP)


def test_given_fail_open_when_postgres_down_then_require_2fa_not_stored(
    scoring: Market, dead_postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_FAIL_OPEN", "true")
    get_settings.cache_clear()
    response = score_transaction(_request(scoring, "t-open"), client_ip=CLIENT_IP)
    assert response.decision is Decision.REQUIRE_2FA and response.reason is Reason.FAIL_OPEN
    assert response.fraud_score is None and response.degraded
    assert json.loads(response.model_dump_json())["confidence"] == 0.0


def test_given_a_scored_purchase_when_traced_then_each_stage_has_its_subsegment(
    scoring: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib

    import shared.scoring.service as service

    stages: list[str] = []

    def recording(name: str):
        stages.append(name)
        return contextlib.nullcontext()

    monkeypatch.setattr(service, "segment", recording)
    score_transaction(_request(scoring, "t-traced"), client_ip=CLIENT_IP)
    assert stages == ["lookup", "features", "cold_start", "model", "store"]

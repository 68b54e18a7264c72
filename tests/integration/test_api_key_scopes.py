"""The API handlers refuse an API key outside its usage plan, as deployed in AWS (where API Gateway
cannot): TG_ALLOWED_API_KEY_IDS set as the CDK stack sets it, events carrying API Gateway's apiKeyId."""

from __future__ import annotations

import json

import psycopg
import pytest

from shared.config import get_settings
from tests.fixtures.api import Market, assert_matches_openapi, invoke

PREDICT = "/api/v1/ml/predict/fraud"
MARKETPLACE_ID, DASHBOARD_ID = "mkt0key1id", "dsh0key1id"


def _body(market: Market, txn: str) -> str:
    return json.dumps(
        {"transaction_id": txn, "wallet_address": market.honest_wallet, "ticket_id": 1001, "price_paid": 80}
    )


@pytest.fixture
def scoped(monkeypatch: pytest.MonkeyPatch, api_state: None, redis_url: str) -> None:
    """The environment of the score function in AWS: only the marketplace key is allowed."""
    monkeypatch.setenv("TG_ALLOWED_API_KEY_IDS", MARKETPLACE_ID)
    get_settings.cache_clear()


def _stored(db: psycopg.Connection) -> int:
    [(count,)] = db.execute("SELECT count(*) FROM intel.fraud_predictions").fetchall()
    return int(count)


def test_given_the_dashboard_key_id_when_the_score_function_runs_then_403_and_nothing_stored(
    scoped: None, api_market: Market, db: psycopg.Connection
) -> None:
    # When an event carrying the dashboard key's id reaches the score function
    response = invoke("score", "POST", PREDICT, body=_body(api_market, "scope-1"), api_key_id=DASHBOARD_ID)
    # Then 403 forbidden, in the documented shape, and no prediction was stored
    assert_matches_openapi("POST", PREDICT, response)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert "predictFraud" in response.json()["error"]["message"]
    assert _stored(db) == 0


def test_given_the_marketplace_key_id_when_the_score_function_runs_then_it_scores(
    scoped: None, api_market: Market, db: psycopg.Connection
) -> None:
    response = invoke("score", "POST", PREDICT, body=_body(api_market, "scope-2"), api_key_id=MARKETPLACE_ID)
    assert_matches_openapi("POST", PREDICT, response)
    assert response.status_code == 200
    assert _stored(db) == 1


def test_given_both_keys_allowed_when_the_dashboard_reads_metrics_then_200(
    monkeypatch: pytest.MonkeyPatch, api_state: None, redis_url: str, api_market: Market
) -> None:
    monkeypatch.setenv("TG_ALLOWED_API_KEY_IDS", f"{MARKETPLACE_ID},{DASHBOARD_ID}")
    get_settings.cache_clear()
    response = invoke("metrics", "GET", "/api/v1/metrics", api_key_id=DASHBOARD_ID)
    assert_matches_openapi("GET", "/api/v1/metrics", response)
    assert response.status_code == 200


def test_given_a_key_id_not_allowed_when_health_details_then_403_and_anonymous_health_still_answers(
    scoped: None, api_market: Market
) -> None:
    refused = invoke("health", "GET", "/health/details", api_key_id=DASHBOARD_ID)
    assert_matches_openapi("GET", "/health/details", refused)
    assert refused.status_code == 403
    # The anonymous route carries no key and checks none
    anonymous = invoke("health", "GET", "/health")
    assert_matches_openapi("GET", "/health", anonymous)
    assert anonymous.status_code == 200

"""The Lambda handlers when PostgreSQL (and Redis) are down: 503 or fail-open, as documented."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from shared.config import get_settings
from shared.db import reset_pool
from tests.fixtures.api import Market, assert_matches_openapi, invoke, reset_api_state

PREDICT = "/api/v1/ml/predict/fraud"


@pytest.fixture
def everything_down(
    api_market: Market, redis_url: str, api_state: None, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> Iterator[Market]:
    monkeypatch.setenv("DATABASE_URL", "postgresql://tg@127.0.0.1:9/nothing")
    monkeypatch.setenv("REDIS_URL", f"unix://{tmp_path}/dead.sock")
    monkeypatch.setenv("TG_DB_CONNECT_TIMEOUT_S", "1")
    get_settings.cache_clear()
    reset_pool()
    reset_api_state()
    yield api_market
    reset_pool()


def _body(market: Market) -> str:
    return json.dumps(
        {
            "transaction_id": "down-1",
            "wallet_address": market.honest_wallet,
            "ticket_id": 1001,
            "price_paid": 80,
        }
    )


def test_given_postgres_down_when_health_then_503_naming_it(everything_down: Market) -> None:
    response = invoke("health", "GET", "/health")
    assert_matches_openapi("GET", "/health", response)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down" and body["checks"]["postgres"]["status"] == "down"
    assert body["checks"]["redis"]["status"] == "down"


def test_given_postgres_down_when_health_anonymously_then_no_error_text_but_details_behind_a_key(
    everything_down: Market, tmp_path
) -> None:
    # When /health is asked anonymously while PostgreSQL and Redis are unreachable
    anonymous = invoke("health", "GET", "/health")
    # Then it says which are down, and nothing about why: no host, port, socket path or error text
    assert_matches_openapi("GET", "/health", anonymous)
    for check in anonymous.json()["checks"].values():
        assert check["detail"] is None and check["version"] is None and check["latency_ms"] is None
    text = json.dumps(anonymous.json())
    for leak in ("127.0.0.1", ":9", str(tmp_path), "dead.sock", "nothing"):
        assert leak not in text
    # And /health/details (the gateway required a key) gives the reasons
    details = invoke("health", "GET", "/health/details")
    assert_matches_openapi("GET", "/health/details", details)
    assert details.status_code == 503
    assert "dead.sock" in details.json()["checks"]["redis"]["detail"]
    assert details.json()["checks"]["postgres"]["detail"]


def test_given_postgres_and_redis_down_when_scoring_then_503_dependency_unavailable(
    everything_down: Market,
) -> None:
    response = invoke("score", "POST", PREDICT, body=_body(everything_down))
    assert_matches_openapi("POST", PREDICT, response)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "dependency_unavailable"


def test_given_fail_open_when_everything_down_then_200_require_2fa(
    everything_down: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_FAIL_OPEN", "true")
    get_settings.cache_clear()
    response = invoke("score", "POST", PREDICT, body=_body(everything_down))
    assert_matches_openapi("POST", PREDICT, response)
    assert response.status_code == 200
    assert response.json()["decision"] == "REQUIRE_2FA" and response.json()["reason"] == "fail_open"


def test_given_postgres_down_when_metrics_then_503(everything_down: Market) -> None:
    response = invoke("metrics", "GET", "/api/v1/metrics")
    assert_matches_openapi("GET", "/api/v1/metrics", response)
    assert response.status_code == 503

"""HTTP to the local API Gateway serving the real handlers (real PostgreSQL, Redis, features, model):
routes, bad inputs (issue 5 item 5), API keys, rate limits; every response matches openapi.yaml."""

from __future__ import annotations

import json
import time

import httpx
import psycopg
import pytest

from shared.api.usage_plans import local_api_key
from shared.config import get_settings
from shared.health import checks as health_checks
from shared.health.checks import HEALTH_DEADLINE_S
from tests.fixtures.api import Market, assert_matches_openapi

PREDICT = "/api/v1/ml/predict/fraud"
CHECKSUMMED = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e"


@pytest.fixture
def client(gateway_url: str, api_key: str) -> httpx.Client:
    with httpx.Client(base_url=gateway_url, headers={"x-api-key": api_key}, timeout=30) as session:
        yield session


def _body(market: Market, txn: str, **overrides: object) -> dict[str, object]:
    return {
        "transaction_id": txn,
        "wallet_address": market.honest_wallet,
        "ticket_id": market.ticket_ids[0],
        "price_paid": 80.0,
        **overrides,
    }


@pytest.fixture
def dashboard_key() -> str:
    return local_api_key("dashboard")


def test_given_stack_up_when_health_then_200_with_each_dependency_up_and_nothing_more(
    gateway_url: str,
) -> None:
    # When anyone asks /health, without an API key
    response = httpx.get(gateway_url + "/health", timeout=30)
    # Then each dependency says up or down, and nothing else: no version, latency or detail
    assert_matches_openapi("GET", "/health", response)
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["postgres"]["status"] == "up" and checks["redis"]["status"] == "up"
    assert checks["model"]["status"] == "up"
    for name, check in checks.items():
        assert check == {"status": check["status"], "version": None, "latency_ms": None, "detail": None}, name


@pytest.mark.parametrize("plan", ["marketplace-backend", "dashboard"])
def test_given_an_api_key_when_health_details_then_versions_and_latencies(
    gateway_url: str, plan: str
) -> None:
    # Given the key of either usage plan, When it asks /health/details
    response = httpx.get(
        gateway_url + "/health/details", headers={"x-api-key": local_api_key(plan)}, timeout=30
    )
    # Then the full report: versions and latencies of what is up
    assert_matches_openapi("GET", "/health/details", response)
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["model"]["version"] and checks["postgres"]["version"] and checks["redis"]["version"]
    assert all(checks[name]["latency_ms"] is not None for name in ("postgres", "redis", "model"))


def test_given_no_api_key_when_health_details_then_403(gateway_url: str) -> None:
    response = httpx.get(gateway_url + "/health/details", timeout=30)
    assert_matches_openapi("GET", "/health/details", response)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_given_redis_down_when_health_anonymously_then_no_socket_path_or_error_text(
    gateway_url: str, api_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    # Given Redis unreachable on a unix socket (its error text names the path)
    dead = f"{tmp_path}/dead-redis.sock"
    monkeypatch.setenv("REDIS_URL", f"unix://{dead}")
    get_settings.cache_clear()
    # When /health is asked anonymously
    response = httpx.get(gateway_url + "/health", timeout=30)
    # Then Redis is down, and the body holds neither the path nor any error text
    assert_matches_openapi("GET", "/health", response)
    assert response.json()["checks"]["redis"] == {
        "status": "down",
        "version": None,
        "latency_ms": None,
        "detail": None,
    }
    for leak in (str(tmp_path), "dead-redis", "sock", "Error", "connect"):
        assert leak not in response.text
    # And /health/details, with a key, says why
    details = httpx.get(gateway_url + "/health/details", headers={"x-api-key": api_key}, timeout=30)
    assert_matches_openapi("GET", "/health/details", details)
    assert "dead-redis.sock" in details.json()["checks"]["redis"]["detail"]


def test_given_a_dependency_that_hangs_when_health_then_answers_within_its_bound_with_it_down(
    gateway_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a chain check that hangs for 10 s
    def hangs() -> None:
        time.sleep(10)

    monkeypatch.setattr(health_checks, "check_chain", hangs)
    # When /health is asked
    started = time.monotonic()
    response = httpx.get(gateway_url + "/health", timeout=30)
    elapsed = time.monotonic() - started
    # Then it answers within its deadline (plus a margin for the request), the chain down
    assert elapsed < HEALTH_DEADLINE_S + 1.0, elapsed
    assert_matches_openapi("GET", "/health", response)
    body = response.json()
    assert body["checks"]["chain"]["status"] == "down"
    assert body["checks"]["postgres"]["status"] == "up"
    assert response.status_code == 200 and body["status"] == "degraded"


def test_given_purchase_when_posted_then_decision_matches_contract(
    client: httpx.Client, api_market: Market
) -> None:
    response = client.post(PREDICT, json=_body(api_market, "e2e-ok"))
    assert_matches_openapi("POST", PREDICT, response)
    assert response.status_code == 200
    payload = response.json()
    assert payload["reason"] == "model" and payload["transaction_id"] == "e2e-ok"
    # And a retry returns the same decision, flagged as replayed
    again = client.post(PREDICT, json=_body(api_market, "e2e-ok"))
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["decision"] == payload["decision"]


def test_given_blocklisted_wallet_when_posted_then_blocked_saying_why(
    client: httpx.Client, api_market: Market, db: psycopg.Connection
) -> None:
    db.execute(
        "INSERT INTO intel.blocklist (kind, value, reason, source) VALUES ('wallet', %s, 'ring', 'soar')",
        (api_market.other_wallet,),
    )
    response = client.post(PREDICT, json=_body(api_market, "e2e-bl", wallet_address=api_market.other_wallet))
    assert_matches_openapi("POST", PREDICT, response)
    assert response.json()["decision"] == "BLOCKED" and response.json()["reason"] == "blocklist_wallet"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"drop": "wallet_address"}, "wallet_address"),
        ({"set": {"coupon": "x"}}, "coupon"),
        ({"set": {"ticket_id": 10.5}}, "ticket_id"),
        ({"set": {"ticket_id": "evt 1"}}, "ticket_id"),
        ({"set": {"buyer_ip": "203.0.113.7\n"}}, "buyer_ip"),
        ({"set": {"price_paid": -5}}, "price_paid"),
        ({"set": {"price_paid": 10**9}}, "price_paid"),
        ({"set": {"wallet_address": "0xnot-a-wallet"}}, "wallet_address"),
        ({"set": {"wallet_address": CHECKSUMMED.replace("Cc", "cC")}}, "wallet_address"),
        ({"set": {"transaction_id": "has space"}}, "transaction_id"),
    ],
)
def test_given_bad_field_when_posted_then_4xx_naming_it(
    client: httpx.Client, api_market: Market, change: dict, field: str
) -> None:
    body = _body(api_market, f"e2e-bad-{field}")
    body.pop(change.get("drop", ""), None)
    body.update(change.get("set", {}))
    response = client.post(PREDICT, json=body)
    assert_matches_openapi("POST", PREDICT, response)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["field"] == field
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b'{"transaction_id": ', "application/json", 400, "malformed_json"),
        (b"[1,2,3]", "application/json", 400, "validation_error"),
        (b"", "application/json", 400, "validation_error"),
        (b"a=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"x" * 20_000, "application/json", 413, "payload_too_large"),
    ],
)
def test_given_malformed_body_when_posted_then_clear_4xx(
    client: httpx.Client, content: bytes, content_type: str, status: int, code: str
) -> None:
    response = client.post(PREDICT, content=content, headers={"content-type": content_type})
    assert_matches_openapi("POST", PREDICT, response)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_given_unknown_route_or_method_when_called_then_404_405(client: httpx.Client) -> None:
    missing = client.get("/api/v1/unknown")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "route_not_found"
    wrong = client.put("/health")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
    assert wrong.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("key", [None, "not-the-key-not-the-key"])
def test_given_no_or_wrong_api_key_when_scoring_then_403(
    gateway_url: str, api_market: Market, key: str | None
) -> None:
    headers = {"x-api-key": key} if key else {}
    response = httpx.post(gateway_url + PREDICT, json=_body(api_market, "e2e-403"), headers=headers)
    assert_matches_openapi("POST", PREDICT, response)
    assert response.status_code == 403


def test_given_six_purchases_by_one_wallet_when_posted_then_sixth_is_429_with_retry_after(
    client: httpx.Client, api_market: Market
) -> None:
    statuses = []
    for i in range(6):
        response = client.post(
            PREDICT, json=_body(api_market, f"e2e-429-{i}", ticket_id=api_market.ticket_ids[i])
        )
        statuses.append(response.status_code)
    assert statuses == [200] * 5 + [429]
    assert_matches_openapi("POST", PREDICT, response)
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"


def test_given_metrics_window_when_requested_then_kpis_and_operational_figures(
    client: httpx.Client, api_market: Market
) -> None:
    client.post(PREDICT, json=_body(api_market, "e2e-metrics"))
    response = client.get("/api/v1/metrics")
    assert_matches_openapi("GET", "/api/v1/metrics", response)
    assert response.status_code == 200
    operational = response.json()["operational"]
    assert operational["predictions"] >= 1 and operational["p95_latency_ms"] is not None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-11-24T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "start"),
        ({"start": "2025-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "start"),
        ({"limit": "5"}, "limit"),
    ],
)
def test_given_bad_metrics_window_when_requested_then_400_naming_field(
    client: httpx.Client, params: dict, field: str
) -> None:
    response = client.get("/api/v1/metrics", params=params)
    assert_matches_openapi("GET", "/api/v1/metrics", response)
    assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_given_metrics_without_key_when_requested_then_403(gateway_url: str) -> None:
    response = httpx.get(gateway_url + "/api/v1/metrics")
    assert response.status_code == 403
    assert json.loads(response.text)["error"]["code"] == "forbidden"


def test_given_the_dashboard_key_when_scoring_then_403_and_no_prediction_is_stored(
    gateway_url: str, dashboard_key: str, api_market: Market, db: psycopg.Connection
) -> None:
    # Given the dashboard's key, whose usage plan lists the metrics (and health details) only
    # When it posts a purchase to the scoring route
    response = httpx.post(
        gateway_url + PREDICT,
        json=_body(api_market, "e2e-dashboard-scores"),
        headers={"x-api-key": dashboard_key},
        timeout=30,
    )
    # Then 403 forbidden, naming the operation, and nothing was scored or stored
    assert_matches_openapi("POST", PREDICT, response)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden" and "predictFraud" in error["message"]
    [(stored,)] = db.execute("SELECT count(*) FROM intel.fraud_predictions").fetchall()
    assert stored == 0


def test_given_the_dashboard_key_when_reading_metrics_then_200(
    gateway_url: str, dashboard_key: str, api_market: Market
) -> None:
    response = httpx.get(gateway_url + "/api/v1/metrics", headers={"x-api-key": dashboard_key}, timeout=30)
    assert_matches_openapi("GET", "/api/v1/metrics", response)
    assert response.status_code == 200


@pytest.mark.parametrize("ticket_id", [987_654, "evt_xyz_001"])
def test_given_a_ticket_the_service_does_not_know_when_posted_then_scored_saying_what_was_unavailable(
    client: httpx.Client, api_market: Market, ticket_id: int | str
) -> None:
    # Given the spec's own example id (a marketplace text id) or a token id never seen
    response = client.post(
        PREDICT,
        json=_body(api_market, f"e2e-unknown-{ticket_id}", ticket_id=ticket_id, buyer_ip="198.51.100.9"),
    )
    # Then a decision, never a 404, and the response names the ticket's features it could not know
    assert_matches_openapi("POST", PREDICT, response)
    assert response.status_code == 200 and response.json()["reason"] == "model"
    assert response.json()["unavailable_features"] == [
        "event_popularity_score",
        "price_deviation_ratio",
        "resale_time",
        "instrument_wallets_7d",  # the served model reads it; the request gave no payment_fingerprint
    ]

"""Issue 11 item 1 through the local gateway: the buyer's IP in the request, not the caller's, keys
the IP limit; the spec's own example body is scored."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.fixtures.api import Market

PREDICT = "/api/v1/ml/predict/fraud"


@pytest.fixture
def client(gateway_url: str, api_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, headers={"x-api-key": api_key}, timeout=60) as session:
        yield session


def _purchase(market: Market, i: int, buyer_ip: str) -> dict[str, object]:
    return {
        "transaction_id": f"bc-{buyer_ip}-{i}",
        "wallet_address": "0x" + f"{i + 1:040x}",  # a wallet per purchase: no wallet near its limit
        "ticket_id": market.ticket_ids[i % len(market.ticket_ids)],
        "price_paid": 80.0,
        "buyer_ip": buyer_ip,
    }


def test_given_one_backend_when_300_distinct_buyers_buy_in_a_minute_then_none_is_ip_throttled(
    client: httpx.Client, api_market: Market
) -> None:
    # Given every request from the marketplace backend's one address (the local client's), each with
    # its buyer's IP. When 300 purchases arrive within the minute
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(
                lambda i: client.post(PREDICT, json=_purchase(api_market, i, f"198.51.{i // 250}.{i % 250}")),
                range(300),
            )
        )
    # Then all are decided: the IP limit (100/min) counts buyers, not the backend
    assert [r.status_code for r in statuses].count(200) == 300


def test_given_one_buyer_ip_when_it_buys_over_100_in_a_minute_then_the_101st_is_refused(
    client: httpx.Client, api_market: Market
) -> None:
    codes = [
        client.post(PREDICT, json=_purchase(api_market, i, "203.0.113.200")).status_code for i in range(101)
    ]
    assert codes[:100] == [200] * 100 and codes[100] == 429


def test_given_the_specs_example_body_when_posted_then_a_decision(client: httpx.Client) -> None:
    # The spec's request (section 1.6): a text ticket id the service has never seen
    body = {
        "transaction_id": "txn_abc123",
        "wallet_address": "0x742d35cc6634c0532925a3b844bc454e4438f44e",
        "ticket_id": "evt_xyz_001",
        "price_paid": 150.0,
    }
    response = client.post(PREDICT, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["decision"] in {"APPROVED", "REQUIRE_2FA", "MANUAL_REVIEW", "BLOCKED"}

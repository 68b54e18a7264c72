"""Issue 12 over HTTP through the local gateway, as the attacker's probe did it: a wallet with a
trailing newline, forged X-Forwarded-For, two API keys, aborted uploads, an instant before year 1."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from tests.fixtures.api import Market

PREDICT = "/api/v1/ml/predict/fraud"


@pytest.fixture
def tight_ip_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_RATELIMIT_IP_PER_MINUTE", "3")


@pytest.fixture
def client(tight_ip_limit: None, gateway_url: str, api_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, headers={"x-api-key": api_key}, timeout=30) as session:
        yield session


def _body(market: Market, txn: str, wallet: str, ticket_index: int = 0) -> dict[str, object]:
    return {
        "transaction_id": txn,
        "wallet_address": wallet,
        "ticket_id": market.ticket_ids[ticket_index],
        "price_paid": 80.0,
    }


def test_given_blocklisted_wallet_with_trailing_newline_when_posted_then_refused_not_approved(
    client: httpx.Client, api_market: Market, db: psycopg.Connection
) -> None:
    db.execute(
        "INSERT INTO intel.blocklist (kind, value, reason, source) VALUES ('wallet', %s, 'ring', 'soar')",
        (api_market.other_wallet,),
    )
    response = client.post(PREDICT, json=_body(api_market, "nl-1", api_market.other_wallet + "\n"))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "wallet_address"
    listed = client.post(PREDICT, json=_body(api_market, "nl-2", api_market.other_wallet))
    assert listed.json()["decision"] == "BLOCKED"


def test_given_blocklisted_client_ip_when_x_forwarded_for_is_forged_then_still_blocked(
    client: httpx.Client, api_market: Market, db: psycopg.Connection
) -> None:
    # Given the local client's own address on the IP blocklist
    db.execute(
        "INSERT INTO intel.blocklist (kind, value, reason, source) VALUES ('ip', '127.0.0.1', 'abuse', 'soar')"
    )
    # When it claims another address in X-Forwarded-For and Forwarded
    response = client.post(
        PREDICT,
        json=_body(api_market, "xff-bl", api_market.honest_wallet),
        headers={
            "x-forwarded-for": "203.0.113.99",
            "forwarded": "for=203.0.113.99",
            "x-real-ip": "203.0.113.99",
        },
    )
    # Then the gateway saw the connection's address, as API Gateway's sourceIp would be
    assert response.status_code == 200
    assert response.json()["reason"] == "blocklist_ip"


def test_given_ip_limit_when_x_forwarded_for_rotates_then_the_limit_holds(
    client: httpx.Client, api_market: Market
) -> None:
    wallets = ["0x" + f"{i:02x}" * 20 for i in range(1, 6)]
    statuses = [
        client.post(
            PREDICT,
            json=_body(api_market, f"xff-rl-{i}", wallet, ticket_index=i),
            headers={"x-forwarded-for": f"198.51.100.{i}"},
        ).status_code
        for i, wallet in enumerate(wallets)
    ]
    assert statuses == [200, 200, 200, 429, 429]


def test_given_two_api_key_headers_when_called_then_forbidden(gateway_url: str, api_key: str) -> None:
    headers = [
        ("x-api-key", api_key),
        ("x-api-key", "tg-local-dashboard-key"),
        ("content-type", "application/json"),
    ]
    response = httpx.post(f"{gateway_url}{PREDICT}", headers=headers, content=b"{}", timeout=30)
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "x-api-key"


def test_given_duplicate_json_keys_when_posted_then_400_naming_the_key(
    client: httpx.Client, api_market: Market
) -> None:
    wallet = api_market.honest_wallet
    raw = (
        f'{{"transaction_id": "dup-1", "wallet_address": "{wallet}", "ticket_id": {api_market.ticket_ids[0]},'
        f' "price_paid": 80.0, "price_paid": 0.01}}'
    )
    response = client.post(PREDICT, content=raw.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "price_paid"


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z"])
def test_given_instant_before_year_one_when_metrics_asked_then_400_not_500(
    client: httpx.Client, start: str
) -> None:
    response = client.get("/api/v1/metrics", params={"start": start})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "start"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_given_aborted_uploads_when_clients_vanish_then_no_traceback_is_logged(
    gateway_url: str, api_key: str
) -> None:
    # Given a log handler on uvicorn's error logger (where "Exception in ASGI application" goes)
    collected = _Collect()
    watched = [logging.getLogger(name) for name in ("uvicorn.error", "uvicorn", "ticketguard", "")]
    for log in watched:
        log.addHandler(collected)
    try:
        parts = urlsplit(gateway_url)
        # When 30 clients announce a body, send part of it and hang up
        for _ in range(30):
            with socket.create_connection((parts.hostname, parts.port)) as raw:
                raw.sendall(
                    (
                        f"POST {PREDICT} HTTP/1.1\r\nHost: local\r\nx-api-key: {api_key}\r\n"
                        'content-type: application/json\r\ncontent-length: 4000\r\n\r\n{"transaction_id": '
                    ).encode()
                )
        time.sleep(1.0)
    finally:
        for log in watched:
            log.removeHandler(collected)
    # Then nothing was logged with a traceback
    assert [r.getMessage() for r in collected.records if r.exc_info] == []
    assert not any("Exception in ASGI application" in r.getMessage() for r in collected.records)

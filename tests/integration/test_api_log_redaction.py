"""Spec threat 5: the logs of a scoring run (through the gateway and the real handlers) hold no
email, IP address or wallet address in clear."""

from __future__ import annotations

import io
import json
import logging

import httpx
import psycopg
import pytest

from tests.fixtures.api import Market

CLIENT_IPS = ("198.51.100.77", "2001:db8::77")
PREDICT = "/api/v1/ml/predict/fraud"


def test_given_scoring_run_when_logs_scanned_then_no_personal_data_in_clear(
    gateway_url: str,
    api_key: str,
    api_market: Market,
    db: psycopg.Connection,
    captured_logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every library's records too, not only ours
    # Given a blocklisted wallet, and requests from distinct client IPs (X-Forwarded-For is what
    # a proxy would add; the gateway's sourceIp is the socket peer, logged by the handler)
    db.execute(
        "INSERT INTO intel.blocklist (kind, value, reason, source) VALUES ('wallet', %s, 'x', 'soar')",
        (api_market.other_wallet,),
    )
    headers = {"x-api-key": api_key}
    with httpx.Client(base_url=gateway_url, headers=headers) as client:
        # When purchases are scored, blocked, replayed, refused as bad input and as unknown tickets
        for i, wallet in enumerate((api_market.honest_wallet, api_market.other_wallet)):
            body = {
                "transaction_id": f"log-{i}",
                "wallet_address": wallet,
                "ticket_id": 1001,
                "price_paid": 80,
            }
            client.post(PREDICT, json=body, headers={"x-forwarded-for": CLIENT_IPS[i]})
            client.post(PREDICT, json=body)
        client.post(
            PREDICT,
            json={
                "transaction_id": "log-x",
                "wallet_address": api_market.honest_wallet,
                "ticket_id": 999999,
                "price_paid": 1,
            },
        )
        client.post(
            PREDICT,
            json={
                "transaction_id": "log-y",
                "wallet_address": "ann@example.com",
                "ticket_id": 1,
                "price_paid": 1,
            },
        )
        client.get("/health")
    # Then the captured log lines are JSON, mention the decisions, and hold no wallet, IP or email
    text = captured_logs.getvalue()
    library_text = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''} {record.exc_info or ''}"
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))  # the test's own client, not the service
    )
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert any(line.get("message") == "scored" for line in lines)
    assert any(str(line.get("wallet", "")).startswith("<wallet:") for line in lines)
    for secret in (
        api_market.honest_wallet,
        api_market.other_wallet,
        "127.0.0.1",
        "ann@example.com",
        *CLIENT_IPS,
    ):
        assert secret not in text and secret not in library_text
        assert secret.upper() not in text
    # And each line carries the request id as correlation id
    scored = [line for line in lines if line.get("message") == "scored"]
    assert all(line.get("correlation_id") for line in scored)

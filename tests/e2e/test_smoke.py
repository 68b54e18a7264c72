"""`ticketguard smoke` (issue 10 item 4) against the local stack, as it runs after a deploy."""

from __future__ import annotations

import pytest

from tests.fixtures.api import Market
from tooling.smoke import cli, run_checks


def test_given_the_local_stack_when_smoke_tested_then_every_check_passes(
    gateway_url: str, api_key: str, api_market: Market, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the smoke test runs with a ticket the service knows
    code = cli(["--api", gateway_url, "--key", api_key, "--ticket-id", str(api_market.ticket_ids[0])])
    # Then each of the four checks passed, one line each, and the exit status says so
    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    assert [line.split(":")[0] for line in out[:4]] == [
        "PASS health",
        "PASS scoring",
        "PASS bad request",
        "PASS metrics",
    ]
    assert out[4] == "smoke: 4/4 passed"


def test_given_an_unknown_ticket_when_smoke_tested_then_scoring_passes_saying_so(
    gateway_url: str, api_key: str
) -> None:
    [_, scoring, _, _] = run_checks(gateway_url, api_key, ticket_id=987_654)
    assert scoring.passed and "unavailable: event_popularity_score" in scoring.detail


def test_given_a_wrong_key_when_smoke_tested_then_the_keyed_checks_fail_and_the_exit_status_is_1(
    gateway_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(["--api", gateway_url, "--key", "not-a-real-key-at-all-000000"])
    out = capsys.readouterr().out
    assert code == 1
    assert "PASS health" in out and "FAIL scoring: 403" in out and "FAIL metrics: 403" in out


def test_given_nothing_listening_when_smoke_tested_then_every_check_fails_cleanly() -> None:
    results = run_checks("http://127.0.0.1:9", "k" * 24)
    assert [r.passed for r in results] == [False] * 4
    assert all("ConnectError" in r.detail for r in results)

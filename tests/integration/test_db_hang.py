"""A PostgreSQL that hangs (its connections stay open, nothing is answered) held to the request
budget: the pooled connection gives up at the request's deadline, the breaker opens, every API route
on the database answers 503 within the budget; a slow but living server cancels the statement itself
with the time that is left (SET LOCAL statement_timeout, per transaction: nothing pins a pooled
session). A crash is the pool's and the breaker's known case; a hang is this one.

The relay of tests/fixtures/hang.py stands between the pool and PgBouncer, so the session's own
servers are never stopped (the e2e fault tests stop real ones)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from shared.config import get_settings
from shared.db import get_pool
from shared.db.connection import DatabaseCircuitOpen
from shared.db.deadline import StatementDeadline, deadline_scope
from tests.fixtures.api import Market, invoke, reset_api_state
from tests.fixtures.hang import FreezingRelay

BUDGET_S = 1.0
# Beyond the budget: the HTTP-free handler overhead and a loaded 2-core machine.
MARGIN_S = 0.5
GIVE_UP_S = 20.0
PREDICT = "/api/v1/ml/predict/fraud"


def _within_give_up(call: Callable[[], Any]) -> tuple[Any, float]:
    """`call()` in a thread (a request that waits for ever fails the test instead of hanging it)."""
    answers: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            answers.append(call())
        except BaseException as exc:
            errors.append(exc)

    started = time.perf_counter()
    caller = threading.Thread(target=run, daemon=True)
    caller.start()
    caller.join(GIVE_UP_S)
    seconds = time.perf_counter() - started
    assert answers or errors, f"no answer after {GIVE_UP_S} s"
    if errors:
        raise errors[0]
    return answers[0], seconds


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setenv("TG_REQUEST_TIMEOUT_S", str(BUDGET_S))
    monkeypatch.setenv("TG_DB_CIRCUIT_OPEN_S", "60")  # open for the whole test once tripped
    get_settings.cache_clear()
    return BUDGET_S


def test_given_a_hung_server_when_a_statement_runs_under_a_deadline_then_it_gives_up_and_opens_the_breaker(
    hung_postgres_relay: FreezingRelay, budget: float
) -> None:
    pool = get_pool()
    with pool.connection() as conn:  # Given a warm pool
        assert conn.execute("SELECT 1").fetchone() == (1,)
    # When the server stops answering and a request's block runs a statement
    hung_postgres_relay.freeze()

    def query() -> object:
        with deadline_scope(time.perf_counter() + budget), pool.connection() as conn:
            return conn.execute("SELECT 2").fetchone()

    with pytest.raises(StatementDeadline):
        _within_give_up(query)
    # Then it gave up at the deadline, and the breaker keeps the next one away at once
    started = time.perf_counter()
    with pytest.raises(DatabaseCircuitOpen), pool.connection(timeout=30):
        pass
    assert time.perf_counter() - started < 0.5
    # And the abandoned connection never went back to the pool with its statement in flight
    assert pool.get_stats().get("pool_available", 0) <= pool.max_size


def test_given_a_hung_server_then_the_deadline_bounds_the_wait(
    hung_postgres_relay: FreezingRelay, budget: float
) -> None:
    pool = get_pool()
    with pool.connection() as conn:
        conn.execute("SELECT 1")
    hung_postgres_relay.freeze()
    started = time.perf_counter()

    def query() -> object:
        with pool.connection(deadline=time.perf_counter() + budget) as conn:
            return conn.execute("SELECT 2").fetchone()

    with pytest.raises(StatementDeadline):
        _within_give_up(query)
    assert time.perf_counter() - started <= budget + MARGIN_S


@pytest.mark.parametrize(
    ("function", "method", "path", "query", "body"),
    [
        ("score", "POST", PREDICT, None, "purchase"),
        ("metrics", "GET", "/api/v1/metrics", None, None),
        ("ingest_batches", "GET", "/api/v1/events/batches/b-123", None, None),
    ],
    ids=["score", "metrics", "batch-status"],
)
def test_given_a_hung_database_when_a_route_needs_it_then_503_within_the_budget(
    api_market: Market,
    api_state: None,
    hung_postgres_relay: FreezingRelay,
    budget: float,
    function: str,
    method: str,
    path: str,
    query: dict[str, str] | None,
    body: str | None,
) -> None:
    if body == "purchase":
        body = json.dumps(
            {
                "transaction_id": "hang-pg-1",
                "wallet_address": api_market.honest_wallet,
                "ticket_id": api_market.ticket_ids[0],
                "price_paid": 80.0,
            }
        )
    # Given warm functions and pool (imports, the model load: Lambda's init phase, not the request's)
    warm = body.replace("hang-pg-1", "hang-pg-warm") if body else None
    assert invoke(function, method, path, body=warm, query=query).status_code in {200, 404}
    reset_api_state()
    # When the database stops answering
    hung_postgres_relay.freeze()
    response, seconds = _within_give_up(lambda: invoke(function, method, path, body=body, query=query))
    # Then the answer is a clean 503, within the budget plus the margin
    assert response.status_code == 503, response.json()
    assert response.json()["error"]["code"] == "dependency_unavailable"
    assert seconds <= budget + MARGIN_S, f"answered in {seconds:.2f} s"


def test_given_a_slow_server_when_less_time_is_left_than_its_statement_timeout_then_it_cancels_itself(
    database_url: str, budget: float
) -> None:
    pool = get_pool()
    # Given a request with 0.5 s left (less than the server's own statement timeout)
    with pool.connection(deadline=time.perf_counter() + 0.5) as conn:
        # Then the block's statements run with what is left as their statement timeout
        row = conn.execute("SELECT current_setting('statement_timeout')").fetchone()
        assert row is not None and row[0].endswith("ms")
        assert 0 < int(row[0].removesuffix("ms")) <= 500
    # When a statement is slower than that, Then the server cancels it (not the client): the breaker
    # stays closed (the server is there) and the pooled session is unchanged for the next request
    with (
        pytest.raises(psycopg.errors.QueryCanceled),
        pool.connection(deadline=time.perf_counter() + 0.5) as conn,
    ):
        conn.execute("SELECT pg_sleep(5)")
    assert not pool.breaker.is_open
    with pool.connection() as conn:
        row = conn.execute("SELECT current_setting('statement_timeout')").fetchone()
    assert row == (f"{get_settings().db_statement_timeout_ms // 1000}s",)

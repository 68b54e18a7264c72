"""Issue 12 through the scoring service with real PostgreSQL and Redis: no spelling of an identifier,
no unparsable IP and no Redis outage gets around a list or a limit; a dead PostgreSQL fails fast."""

from __future__ import annotations

import psycopg
import pytest

from shared.api.models import Decision, PredictRequest, Reason
from shared.config import get_settings
from shared.db import get_pool, reset_pool
from shared.db.connection import DatabaseCircuitOpen
from shared.errors import DependencyUnavailable, RateLimited
from shared.scoring.service import score_transaction
from tests.fixtures.api import Market, reset_api_state


def _request(market: Market, txn: str, *, wallet: str | None = None, ticket_index: int = 0) -> PredictRequest:
    return PredictRequest(
        transaction_id=txn,
        wallet_address=wallet or market.honest_wallet,
        ticket_id=market.ticket_ids[ticket_index],
        price_paid=80.0,
    )


@pytest.fixture
def scoring(db: psycopg.Connection, redis_url: str, api_market: Market, api_state: None) -> Market:
    return api_market


@pytest.fixture
def redis_down(scoring: Market, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("REDIS_URL", f"unix://{tmp_path}/dead.sock")
    get_settings.cache_clear()
    reset_api_state()


def test_given_redis_down_when_one_wallet_buys_eight_times_then_the_sixth_is_refused(
    scoring: Market, redis_down: None
) -> None:
    # Given Redis unavailable (degraded scoring from PostgreSQL)
    responses = []
    # When one wallet tries eight purchases in a minute
    for i in range(5):
        responses.append(
            score_transaction(_request(scoring, f"rd-{i}", ticket_index=i), client_ip="203.0.113.60")
        )
    # Then five are scored, saying the limits were approximate, and the sixth is refused
    assert all(r.degraded and r.rate_limits == "approximate" for r in responses)
    for i in range(5, 8):
        with pytest.raises(RateLimited):
            score_transaction(_request(scoring, f"rd-{i}", ticket_index=i), client_ip="203.0.113.60")


@pytest.mark.parametrize("spelling", ["::ffff:198.51.100.77", "::ffff:c633:644d", "198.51.100.77"])
def test_given_blocklisted_ip_when_it_comes_in_another_spelling_then_still_blocked(
    scoring: Market, db: psycopg.Connection, spelling: str
) -> None:
    db.execute(
        "INSERT INTO intel.blocklist (kind, value, reason, source) VALUES ('ip', '198.51.100.77', 'abuse', 'soar')"
    )
    response = score_transaction(_request(scoring, "bl-spelling"), client_ip=spelling)
    assert response.decision is Decision.BLOCKED and response.reason is Reason.BLOCKLIST_IP


@pytest.mark.parametrize("garbage", [None, "", "not-an-ip", "198.51.100.7\n", "999.1.1.1", " 10.0.0.1"])
def test_given_unparsable_client_ip_when_scored_then_counted_not_skipped(
    scoring: Market, monkeypatch: pytest.MonkeyPatch, garbage: str | None
) -> None:
    # Given an IP limit of 2 a minute (other limits far away)
    monkeypatch.setenv("TG_RATELIMIT_IP_PER_MINUTE", "2")
    reset_api_state()
    wallets = ("0x" + "d4" * 20, "0x" + "e5" * 20, "0x" + "f6" * 20)
    # When three purchases from three wallets come with a client IP that does not parse
    score_transaction(_request(scoring, "ip-0", wallet=wallets[0], ticket_index=0), client_ip=garbage)
    score_transaction(_request(scoring, "ip-1", wallet=wallets[1], ticket_index=1), client_ip="bogus")
    # Then they share one IP window: the third is refused by the IP rule
    with pytest.raises(RateLimited) as refused:
        score_transaction(_request(scoring, "ip-2", wallet=wallets[2], ticket_index=2), client_ip=garbage)
    assert "'ip'" in refused.value.message


def test_given_ipv6_client_when_it_rotates_within_its_64_then_one_ip_window(
    scoring: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_RATELIMIT_IP_PER_MINUTE", "2")
    reset_api_state()
    wallets = ("0x" + "d4" * 20, "0x" + "e5" * 20, "0x" + "f6" * 20)
    for i in range(2):
        score_transaction(
            _request(scoring, f"v6-{i}", wallet=wallets[i], ticket_index=i), client_ip=f"2001:db8::{i + 1}"
        )
    with pytest.raises(RateLimited):
        score_transaction(
            _request(scoring, "v6-2", wallet=wallets[2], ticket_index=2), client_ip="2001:db8::ffff:3"
        )


def test_given_purchase_limit_used_when_the_buyer_retries_a_stored_transaction_then_replayed_not_refused(
    scoring: Market,
) -> None:
    # Given a wallet that made its five purchases of the minute
    first = score_transaction(_request(scoring, "retry-0"), client_ip="203.0.113.61")
    for i in range(1, 5):
        score_transaction(_request(scoring, f"retry-{i}", ticket_index=i), client_ip="203.0.113.61")
    # When the marketplace retries the first one (its answer was lost), Then the stored decision comes back
    again = score_transaction(_request(scoring, "retry-0"), client_ip="203.0.113.61")
    assert again.replayed and again.decision is first.decision
    # And a new purchase attempt is still refused: the retry neither used nor freed the wallet's quota
    with pytest.raises(RateLimited):
        score_transaction(_request(scoring, "retry-5", ticket_index=5), client_ip="203.0.113.61")


def test_given_fail_open_and_postgres_down_when_wallet_buys_six_times_then_limits_still_hold(
    scoring: Market, refusing_postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_FAIL_OPEN", "true")
    get_settings.cache_clear()
    for i in range(5):
        response = score_transaction(_request(scoring, f"fo-{i}", ticket_index=i), client_ip="203.0.113.62")
        assert response.reason is Reason.FAIL_OPEN
    with pytest.raises(RateLimited):
        score_transaction(_request(scoring, "fo-5", ticket_index=5), client_ip="203.0.113.62")


def test_given_postgres_refusing_when_requests_follow_then_breaker_fails_them_at_once(
    scoring: Market, refusing_postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a PostgreSQL that refuses connections and a long breaker interval
    monkeypatch.setenv("TG_DB_CIRCUIT_OPEN_S", "60")
    get_settings.cache_clear()
    reset_pool()
    # When a first request waits for a connection and fails
    with pytest.raises(DependencyUnavailable):
        score_transaction(_request(scoring, "cb-0"), client_ip="203.0.113.63")
    # Then the next ones are refused by the open breaker, without waiting for the pool
    with pytest.raises(DatabaseCircuitOpen), get_pool().connection(timeout=30):
        pass
    with pytest.raises(DependencyUnavailable) as refused:
        score_transaction(_request(scoring, "cb-1"), client_ip="203.0.113.63")
    assert isinstance(refused.value.__cause__, DatabaseCircuitOpen)


def test_given_breaker_open_when_postgres_is_back_then_one_probe_closes_it(
    scoring: Market, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the pool's breaker opened by a failure, with a short interval
    monkeypatch.setenv("TG_DB_CIRCUIT_OPEN_S", "0.2")
    get_settings.cache_clear()
    reset_pool()
    pool = get_pool()
    pool.breaker.failed()  # type: ignore[attr-defined]
    with pytest.raises(DatabaseCircuitOpen), pool.connection():
        pass
    # When the interval is over, Then the next request probes, succeeds, and closes the breaker
    import time

    time.sleep(0.25)
    with pool.connection() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert not pool.breaker.is_open  # type: ignore[attr-defined]
    response = score_transaction(_request(scoring, "cb-back"), client_ip="203.0.113.64")
    assert response.reason is Reason.MODEL

"""Sliding-window limits in a real Redis: exact counts under concurrency, all-or-nothing, Retry-After."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib

from shared.ratelimit import RateLimiter, Rule
from shared.ratelimit.limiter import PREDICT_ROUTE, RateLimitSettings, default_rules

OTHER_ROUTE = "GET /api/v1/metrics"


def test_given_limit_when_many_threads_hit_at_once_then_exactly_limit_pass(
    redis_client: redis_lib.Redis,
) -> None:
    # Given an IP limit of 100 per minute
    limiter = RateLimiter((Rule("ip", 100, 60, "ip"),), enabled=True)
    barrier = threading.Barrier(16)

    def burst(_: int) -> list[bool]:
        client = redis_lib.Redis(connection_pool=redis_client.connection_pool)
        barrier.wait()
        return [
            limiter.hit(client, OTHER_ROUTE, ip="198.51.100.7", user=None, wallet=None).allowed
            for _ in range(20)
        ]

    # When 16 threads send 320 requests together
    with ThreadPoolExecutor(16) as pool:
        results = [ok for batch in pool.map(burst, range(16)) for ok in batch]
    # Then exactly 100 pass: the check and the count are one atomic step
    assert results.count(True) == 100
    assert results.count(False) == 220


def test_given_purchase_limit_full_when_another_buy_then_refused_with_retry_after(
    redis_client: redis_lib.Redis,
) -> None:
    # Given the spec's limits (5 purchases per minute per wallet)
    limiter = RateLimiter(default_rules(RateLimitSettings()), enabled=True)
    wallet = "0x" + "ab" * 20
    decisions = [
        limiter.hit(redis_client, PREDICT_ROUTE, ip="203.0.113.9", user="42", wallet=wallet) for _ in range(6)
    ]
    # Then five pass and the sixth is refused by the purchase rule, with a wait within the window
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert decisions[-1].rule == "purchase"
    assert 1 <= decisions[-1].retry_after_s <= 60


def test_given_one_rule_refuses_when_hit_then_no_rule_counts_it(redis_client: redis_lib.Redis) -> None:
    # Given a tight purchase limit and a loose IP limit
    limiter = RateLimiter(
        (Rule("ip", 10, 60, "ip"), Rule("purchase", 2, 60, "wallet", routes=(PREDICT_ROUTE,))), enabled=True
    )
    wallet = "0x" + "cd" * 20
    for _ in range(5):  # 2 pass, 3 refused by the purchase rule
        limiter.hit(redis_client, PREDICT_ROUTE, ip="192.0.2.1", user=None, wallet=wallet)
    # When the same IP now calls another route, Then only the 2 accepted requests counted against it
    other = [limiter.hit(redis_client, OTHER_ROUTE, ip="192.0.2.1", user=None, wallet=None) for _ in range(9)]
    assert [d.allowed for d in other] == [True] * 8 + [False]


def test_given_route_rule_when_other_route_then_not_applied(redis_client: redis_lib.Redis) -> None:
    limiter = RateLimiter((Rule("purchase", 1, 60, "wallet", routes=(PREDICT_ROUTE,)),), enabled=True)
    wallet = "0x" + "ef" * 20
    assert all(
        limiter.hit(redis_client, OTHER_ROUTE, ip=None, user=None, wallet=wallet).allowed for _ in range(5)
    )


def test_given_no_redis_when_wallet_buys_eight_times_then_process_windows_refuse_the_sixth() -> None:
    # Given the spec's limits and no Redis (down, or its breaker open)
    limiter = RateLimiter(default_rules(RateLimitSettings()), enabled=True)
    wallet = "0x" + "5a" * 20
    # When one wallet tries eight purchases in a minute
    decisions = [limiter.hit(None, PREDICT_ROUTE, ip="192.0.2.1", user=None, wallet=wallet) for _ in range(8)]
    # Then this process's windows still hold the purchase limit, and say they are an approximation
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3
    assert decisions[5].rule == "purchase" and 1 <= decisions[5].retry_after_s <= 60
    assert all(d.approximate for d in decisions)


def test_given_no_redis_when_one_ip_sends_110_then_100_pass() -> None:
    limiter = RateLimiter(default_rules(RateLimitSettings()), enabled=True)
    results = [
        limiter.hit(None, OTHER_ROUTE, ip="198.51.100.20", user=None, wallet=None).allowed for _ in range(110)
    ]
    assert results.count(True) == 100


def test_given_redis_refusing_connections_when_enforce_then_fallback_limits_apply(
    monkeypatch: pytest.MonkeyPatch, api_state: None
) -> None:
    # Given a Redis that refuses every connection (nothing listens on port 1)
    from shared.errors import RateLimited
    from shared.ratelimit.limiter import enforce

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("TG_RATELIMIT_IP_PER_MINUTE", "3")
    # When one IP calls the metrics route four times, Then the fourth is refused all the same
    for _ in range(3):
        enforce(OTHER_ROUTE, ip="203.0.113.44")
    with pytest.raises(RateLimited):
        enforce(OTHER_ROUTE, ip="203.0.113.44")


def test_given_users_when_counted_then_per_user_not_per_wallet(redis_client: redis_lib.Redis) -> None:
    # Given a per-user limit of 3 and one user with two wallets
    limiter = RateLimiter((Rule("user", 3, 60, "user"),), enabled=True)
    first, second = "0x" + "11" * 20, "0x" + "22" * 20
    results = [
        limiter.hit(redis_client, OTHER_ROUTE, ip=None, user="7", wallet=wallet).allowed
        for wallet in (first, second, first, second)
    ]
    # Then the user's fourth request is refused, whichever wallet it came from
    assert results == [True, True, True, False]

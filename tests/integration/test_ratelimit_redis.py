"""Sliding-window limits in a real Redis: exact counts under concurrency, all-or-nothing, Retry-After."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

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


def test_given_no_redis_when_hit_then_allowed_but_flagged_unchecked() -> None:
    decision = RateLimiter(enabled=True).hit(None, PREDICT_ROUTE, ip="192.0.2.1", user=None, wallet=None)
    assert decision.allowed and not decision.checked


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

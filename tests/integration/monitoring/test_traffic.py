"""The rate limiter's traffic counts in a real Redis (section 3 of the monitoring page): requests per
minute, refusals per rule, the top IPs, and that counting costs the checked request no round trip."""

from __future__ import annotations

import time

import redis as redis_lib

from shared.cache.roundtrip import RoundTrip
from shared.ratelimit import RateLimiter, Rule
from shared.ratelimit.limiter import PREDICT_ROUTE
from shared.ratelimit.traffic import TRAFFIC_TTL_S, count_request, read_refusals, read_traffic

WALLET = "0x" + "ab" * 20


def test_given_requests_from_three_ips_when_read_then_counts_top_ips_and_refusals(
    redis_client: redis_lib.Redis,
) -> None:
    # Given the IP limit (every route) and a purchase limit of 2 per minute per wallet, and requests
    # from three IPs, one sending 4 purchases of one wallet (2 refused), one an IPv6 client (its /64)
    limiter = RateLimiter(
        (Rule("ip", 100, 60, "ip"), Rule("purchase", 2, 60, "wallet", routes=(PREDICT_ROUTE,))), enabled=True
    )
    decisions = [
        limiter.hit(redis_client, PREDICT_ROUTE, ip="203.0.113.9", user=None, wallet=WALLET) for _ in range(4)
    ]
    for _ in range(3):
        limiter.hit(redis_client, "GET /api/v1/metrics", ip="198.51.100.7", user=None, wallet=None)
    limiter.hit(redis_client, "GET /api/v1/metrics", ip="2001:db8::1", user=None, wallet=None)
    assert [d.allowed for d in decisions] == [True, True, False, False]
    # When the monitoring page reads the last hour
    report = read_traffic(redis_client, now_s=time.time(), minutes=60, top=5)
    # Then every checked request is counted once, refused ones per rule, and the IPs rank by requests
    assert sum(row.requests for row in report.minutes) == 8
    assert sum(row.refused.get("purchase", 0) for row in report.minutes) == 2
    assert report.top_ips == [("203.0.113.9", 4, 2), ("198.51.100.7", 3, 0), ("2001:db8::/64", 1, 0)]
    assert len(report.minutes) == 60
    # And each refusal is one event per IP and minute for the security feed
    assert [(subject, count) for _, subject, count in read_refusals(redis_client, now_s=time.time())] == [
        ("203.0.113.9", 2)
    ]
    # And the counts expire (2 hours), leaving no scratch key of the read behind
    keys = [k.decode() for k in redis_client.scan_iter("tg:{rl}:traffic:*")]
    assert keys and all(0 < redis_client.ttl(k) <= TRAFFIC_TTL_S for k in keys)
    assert not [k for k in keys if ":top:" in k]


def test_given_the_scoring_round_trip_when_hit_then_the_counts_travel_in_it(
    redis_client: redis_lib.Redis,
) -> None:
    # Given a round trip the caller has already queued a command on (the scoring path's cache fill)
    limiter = RateLimiter((Rule("ip", 100, 60, "ip"),), enabled=True)
    trip = RoundTrip(redis_client)
    trip.write(lambda pipe: pipe.set("tg:f:ticket:1", "x"))
    calls: list[int] = []
    original = redis_client.pipeline

    def counting_pipeline(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    redis_client.pipeline = counting_pipeline  # type: ignore[method-assign]
    try:
        # When an allowed request is checked along it
        decision = limiter.hit(
            redis_client, PREDICT_ROUTE, ip="192.0.2.1", user=None, wallet=None, along=trip
        )
    finally:
        redis_client.pipeline = original  # type: ignore[method-assign]
    # Then no other round trip was opened, and the request is counted
    assert decision.allowed and calls == []
    assert sum(row.requests for row in read_traffic(redis_client, now_s=time.time()).minutes) == 1


def test_given_a_redis_without_the_count_script_when_a_request_is_counted_then_it_is_loaded_and_counted(
    redis_client: redis_lib.Redis,
) -> None:
    # Given a Redis that lost its scripts (a restart or a failover: the counts are one script call)
    redis_client.script_flush()
    trip = RoundTrip(redis_client)
    # When one request from an IP is counted in a round trip
    count_request(trip, "198.51.100.77")
    trip.execute()
    # Then the script was loaded and the request counted under its IP, with the counts' TTL
    minutes = read_traffic(redis_client, now_s=time.time()).minutes
    assert sum(row.requests for row in minutes) == 1
    keys = [k.decode() for k in redis_client.scan_iter("tg:{rl}:traffic:*")]
    assert len(keys) == 2 and all(0 < redis_client.ttl(k) <= TRAFFIC_TTL_S for k in keys)
    ips = [k for k in keys if ":ip:" in k]
    assert redis_client.zscore(ips[0], "198.51.100.77") == 1.0

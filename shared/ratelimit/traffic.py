"""Traffic as the rate limiter sees it, per clock minute, for the monitoring page (spec 4.1 section 3:
requests per minute, top 5 IPs, rate-limit violations).

The limiter counts each request it checks in the round trip that checks it (RateLimiter.hit queues
these writes beside its Lua call: no round trip of its own), and each refusal in one more round trip,
taken only by a refused request. Per minute `m` (epoch seconds // 60), under the limiter's `{rl}` hash
tag (shared.cache.keys.RATE_LIMIT):

    tg:{rl}:traffic:<m>          hash: requests, refused:<rule> (a count per refusing rule)
    tg:{rl}:traffic:ip:<m>       sorted set: the IP-limit subject -> requests
    tg:{rl}:traffic:refused:<m>  sorted set: the IP-limit subject -> refused requests

The IP-limit subject is what the IP limit counts (shared.identifiers.ip_limit_subject: the address, an
IPv6 /64, or `unparsed`), in clear so that an administrator can blocklist it; every key lives
TRAFFIC_TTL_S (2 hours), the page reads the last hour. The minute is this host's clock (Lambda's is
NTP-synced); the limits themselves keep Redis's clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import redis

from shared.cache.keys import RATE_LIMIT
from shared.cache.roundtrip import RoundTrip
from shared.cache.scripts import LuaScript
from shared.identifiers import canonical_ip, ip_limit_subject

TRAFFIC_TTL_S = 2 * 3600
REQUESTS = "requests"
REFUSED_PREFIX = "refused:"


def minute_of(epoch_s: float) -> int:
    return int(epoch_s // 60)


def _counts_key(minute: int) -> str:
    return RATE_LIMIT.key(f"traffic:{minute}")


def _ips_key(minute: int) -> str:
    return RATE_LIMIT.key(f"traffic:ip:{minute}")


def _refused_key(minute: int) -> str:
    return RATE_LIMIT.key(f"traffic:refused:{minute}")


def traffic_subject(ip: str | None) -> str:
    return ip_limit_subject(canonical_ip(ip))


# One request's counts: the four writes count_request used to queue as four commands, in one script call
# (one command to pack, send and parse instead of four, on every checked request: issue 29's profile).
# KEYS: the minute's counts hash, its IP sorted set; ARGV: the requests field, the TTL, the IP subject.
_COUNT_REQUEST = LuaScript("""
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZINCRBY', KEYS[2], 1, ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
""")


def count_request(trip: RoundTrip, ip: str | None, now_s: float | None = None) -> None:
    """Queue one request's counts on `trip` (sent with the limiter's own call)."""
    minute = minute_of(time.time() if now_s is None else now_s)
    keys = [_counts_key(minute), _ips_key(minute)]
    trip.write_eval(_COUNT_REQUEST, keys, [REQUESTS, TRAFFIC_TTL_S, traffic_subject(ip)])


def count_refusal(client: redis.Redis, rule: str, ip: str | None, now_s: float | None = None) -> None:
    """One refused request, by `rule`, in one round trip."""
    minute = minute_of(time.time() if now_s is None else now_s)
    counts, refused = _counts_key(minute), _refused_key(minute)
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(counts, f"{REFUSED_PREFIX}{rule}", 1)
    pipe.expire(counts, TRAFFIC_TTL_S)
    pipe.zincrby(refused, 1, traffic_subject(ip))
    pipe.expire(refused, TRAFFIC_TTL_S)
    pipe.execute()


@dataclass
class MinuteTraffic:
    minute: int  # epoch seconds // 60
    requests: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # rule -> refused requests

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())


@dataclass
class TrafficReport:
    minutes: list[MinuteTraffic]  # oldest first, one per minute of the window, empty ones included
    top_ips: list[tuple[str, int, int]]  # (subject, requests, refused), most requests first


def _as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_traffic(client: redis.Redis, *, now_s: float, minutes: int = 60, top: int = 5) -> TrafficReport:
    """The last `minutes` minutes (the current one included) and the `top` IP subjects over them, with
    their refused requests. Two round trips; the unions are scratch keys of this call, deleted."""
    last = minute_of(now_s)
    window = list(range(last - minutes + 1, last + 1))
    scratch = RATE_LIMIT.key(f"traffic:top:{last}:{time.time_ns()}")
    pipe = client.pipeline(transaction=False)
    for minute in window:
        pipe.hgetall(_counts_key(minute))
    pipe.zunionstore(f"{scratch}:ip", [_ips_key(m) for m in window], aggregate="SUM")
    pipe.zunionstore(f"{scratch}:refused", [_refused_key(m) for m in window], aggregate="SUM")
    pipe.zrevrange(f"{scratch}:ip", 0, top - 1, withscores=True)
    answers = pipe.execute()
    leaders = [(_as_text(subject), int(score)) for subject, score in answers[-1]]
    pipe = client.pipeline(transaction=False)
    for subject, _ in leaders:
        pipe.zscore(f"{scratch}:refused", subject)
    pipe.delete(f"{scratch}:ip", f"{scratch}:refused")
    refused = pipe.execute()[:-1]
    return TrafficReport(
        minutes=[_minute(minute, counts) for minute, counts in zip(window, answers, strict=False)],
        top_ips=[
            (subject, requests, int(score or 0))
            for (subject, requests), score in zip(leaders, refused, strict=True)
        ],
    )


def _minute(minute: int, counts: dict[Any, Any] | None) -> MinuteTraffic:
    row = MinuteTraffic(minute)
    for name, value in (counts or {}).items():
        key, number = _as_text(name), int(value)
        if key == REQUESTS:
            row.requests = number
        elif key.startswith(REFUSED_PREFIX):
            row.refused[key.removeprefix(REFUSED_PREFIX)] = number
    return row


def read_refusals(client: redis.Redis, *, now_s: float, minutes: int = 60) -> list[tuple[int, str, int]]:
    """(minute, IP subject, refused requests) over the last `minutes` minutes, newest minute first."""
    last = minute_of(now_s)
    window = list(range(last, last - minutes, -1))
    pipe = client.pipeline(transaction=False)
    for minute in window:
        pipe.zrevrange(_refused_key(minute), 0, -1, withscores=True)
    return [
        (minute, _as_text(subject), int(score))
        for minute, members in zip(window, pipe.execute(), strict=True)
        for subject, score in members
    ]

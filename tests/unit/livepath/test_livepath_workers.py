"""Each matrix worker on a Redis database of its own (tooling.livepath.workers.redis_database)."""

from __future__ import annotations

import pytest
import redis

from tooling.livepath.workers import redis_database


@pytest.mark.parametrize(
    ("url", "number", "expected"),
    [
        ("unix:///tmp/tg/redis.sock", 2, "unix:///tmp/tg/redis.sock?db=2"),
        (
            "unix:///tmp/tg/redis.sock?db=0&socket_timeout=3",
            1,
            "unix:///tmp/tg/redis.sock?db=1&socket_timeout=3",
        ),
        ("redis://localhost:6379/0", 3, "redis://localhost:6379/3"),
        ("redis://:secret@cache.internal:6380", 1, "redis://:secret@cache.internal:6380/1"),
    ],
)
def test_given_the_stack_redis_url_when_a_worker_takes_database_n_then_the_url_names_it(
    url: str, number: int, expected: str
) -> None:
    # Given the stack's Redis URL, When worker n's database is named
    named = redis_database(url, number)
    # Then it is the same server with database n, in a form redis-py reads back as database n
    assert named == expected
    assert redis.Redis.from_url(named).connection_pool.connection_kwargs["db"] == number

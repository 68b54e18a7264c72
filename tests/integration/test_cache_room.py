"""The cache room against a real Redis (and PostgreSQL): the shared round trip and the guarded feature
write-back racing a batch feature job (the round trips one scoring request costs:
test_scoring_round_trips.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import redis as redis_lib
from psycopg_pool import ConnectionPool

from shared.api.models import PredictRequest
from shared.cache.roundtrip import RoundTrip, raw
from shared.cache.scripts import LuaScript
from shared.features.batch import run_feature_job
from shared.features.realtime import ScoringContext, compute_realtime_features
from shared.scoring.service import score_transaction
from tests.fixtures.api import Market

CLIENT_IP = "203.0.113.50"
OLD_HOLD_TIME = 5.0


# ------------------------------------------------------------------ the round trip
def test_given_several_readers_when_executed_then_one_pipeline_answers_each(
    redis_client: redis_lib.Redis,
) -> None:
    # Given a string, a hash and a script, each with its own reader
    redis_client.set("k", "7")
    redis_client.hset("h", mapping={"a": "1"})
    trip = RoundTrip(redis_client)
    number = trip.queue(lambda pipe: pipe.get("k"), parse=int)
    fields = trip.queue(
        lambda pipe: pipe.hgetall("h"), parse=lambda reply: {k.decode(): v.decode() for k, v in reply.items()}
    )
    doubled = trip.eval(LuaScript("return tonumber(ARGV[1]) * 2"), [], ["21"], parse=raw)
    trip.write(lambda pipe: pipe.set("w", "1"))
    # When the round trip is executed
    trip.execute()
    # Then each reader gets its typed answer, and the write landed
    assert (number.result(), fields.result(), doubled.result()) == (7, {"a": "1"}, 42)
    assert redis_client.get("w") == b"1"
    # And a round trip is sent once
    with pytest.raises(RuntimeError):
        trip.execute()


def test_given_a_failing_command_when_executed_then_its_reader_gets_the_error_and_the_others_their_answers(
    redis_client: redis_lib.Redis,
) -> None:
    # Given a command that fails (INCR on a hash) between two that do not
    redis_client.hset("h", mapping={"a": "1"})
    trip = RoundTrip(redis_client)
    before = trip.queue(lambda pipe: pipe.set("x", "1"), parse=bool)
    failing = trip.queue(lambda pipe: pipe.incr("h"), parse=int)
    after = trip.queue(lambda pipe: pipe.incr("n"), parse=int)
    # When executed
    trip.execute()
    # Then only the failing command's reader sees the exception reply
    assert before.result() is True and after.result() == 1
    assert isinstance(failing.error, redis_lib.ResponseError)
    with pytest.raises(redis_lib.ResponseError):
        failing.result()


def test_given_a_failing_write_without_reader_when_executed_then_execute_raises_after_answering_the_readers(
    redis_client: redis_lib.Redis,
) -> None:
    redis_client.hset("h", mapping={"a": "1"})
    trip = RoundTrip(redis_client)
    read = trip.queue(lambda pipe: pipe.incr("n"), parse=int)
    trip.write(lambda pipe: pipe.incr("h"))
    with pytest.raises(redis_lib.ResponseError):
        trip.execute()
    assert read.result() == 1


def test_given_a_parse_error_when_read_then_the_reader_gets_it(redis_client: redis_lib.Redis) -> None:
    redis_client.set("k", "not a number")
    trip = RoundTrip(redis_client)
    number = trip.queue(lambda pipe: pipe.get("k"), parse=int)
    trip.execute()  # parsing is the reader's, at its first result()
    with pytest.raises(ValueError):
        number.result()


def test_given_a_server_without_the_script_when_executed_then_it_is_loaded_and_answered(
    redis_client: redis_lib.Redis,
) -> None:
    # Given a server that forgot every script (a restart, a failover)
    script = LuaScript("return redis.call('INCR', KEYS[1])")
    redis_client.script_flush()
    trip = RoundTrip(redis_client)
    first = trip.eval(script, ["c"], [], parse=int)
    second = trip.eval(script, ["c"], [], parse=int)
    # When executed
    trip.execute()
    # Then both calls ran once each, in order, and the script is known from now on
    assert (first.result(), second.result()) == (1, 2)
    assert redis_client.script_exists(script.sha) == [True]


# ------------------------------------------------------------------ the guarded write-back
@pytest.fixture
def pool(database_url: str) -> Iterator[ConnectionPool]:
    with ConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as opened:
        yield opened


class InterleavingPool:
    """A pool whose next connection, once the caller is done with it, lets `meanwhile` run: the
    interleaving "read PostgreSQL -> something else happens -> the caller goes on"."""

    def __init__(self, pool: ConnectionPool, meanwhile: Callable[[], None]) -> None:
        self.pool = pool
        self.meanwhile: Callable[[], None] | None = meanwhile

    @contextmanager
    def connection(self, *args: Any, **kwargs: Any) -> Iterator[psycopg.Connection]:
        with self.pool.connection(*args, **kwargs) as conn:
            yield conn
        if self.meanwhile is not None:
            run, self.meanwhile = self.meanwhile, None
            run()


def _old_snapshot(db: psycopg.Connection, wallet: str) -> None:
    db.execute(
        "INSERT INTO intel.wallet_features (address, avg_ticket_hold_time, hold_as_of) VALUES (%s, %s, %s)",
        (wallet, OLD_HOLD_TIME, datetime(2020, 1, 1, tzinfo=UTC)),
    )


def test_given_a_batch_job_publishes_between_the_postgres_read_and_the_write_back_then_the_old_values_are_not_cached(
    db: psycopg.Connection,
    api_market: Market,
    pool: ConnectionPool,
    redis_client: redis_lib.Redis,
    redis_url: str,
) -> None:
    # Given a wallet whose hold time in the feature tables is 5 h, not cached yet
    wallet = api_market.honest_wallet
    _old_snapshot(db, wallet)
    ctx = ScoringContext(wallet, api_market.ticket_ids[0], 80.0, CLIENT_IP, datetime.now(UTC))

    # And a batch job that rewrites the tables (no ticket was ever sent away: no hold time) and
    # publishes to the cache: the real job, with the real invalidation
    def batch_job_publishes() -> None:
        run_feature_job(db, "hourly", redis=redis_client)
        assert db.execute(
            "SELECT avg_ticket_hold_time FROM intel.wallet_features WHERE address = %s", (wallet,)
        ).fetchone() == (None,)

    # When a request misses the cache, reads PostgreSQL (the old 5 h), the batch job publishes, and
    # the request then writes what it read back
    served = compute_realtime_features(
        ctx, redis=redis_client, pool=InterleavingPool(pool, batch_job_publishes)
    )
    assert served.values["avg_ticket_hold_time"] == OLD_HOLD_TIME  # read before the job: fine to serve

    # Then the old values are not in the cache
    wallet_key = f"tg:f:wallet:{wallet}"
    assert redis_client.hget(wallet_key, "hold_time") is None
    # And the next request reads the new snapshot from PostgreSQL, and caches that
    again = compute_realtime_features(ctx, redis=redis_client, pool=pool)
    assert again.sources["avg_ticket_hold_time"] == "postgres"
    assert again.values["avg_ticket_hold_time"] is None
    assert redis_client.hget(wallet_key, "hold_time") == b""
    # And the one after is served by Redis, with the new value
    cached = compute_realtime_features(ctx, redis=redis_client, pool=pool)
    assert cached.sources["avg_ticket_hold_time"] == "redis"
    assert cached.values["avg_ticket_hold_time"] is None


def test_given_no_publish_between_read_and_write_back_then_the_values_are_cached(
    db: psycopg.Connection, api_market: Market, pool: ConnectionPool, redis_client: redis_lib.Redis
) -> None:
    # Given a batch job published before the request (the generation is not the initial one)
    wallet = api_market.honest_wallet
    run_feature_job(db, "hourly", redis=redis_client)
    db.execute("UPDATE intel.wallet_features SET avg_ticket_hold_time = 3.5 WHERE address = %s", (wallet,))
    ctx = ScoringContext(wallet, api_market.ticket_ids[0], 80.0, CLIENT_IP, datetime.now(UTC))
    # When a request misses the cache with nothing happening meanwhile
    cold = compute_realtime_features(ctx, redis=redis_client, pool=InterleavingPool(pool, lambda: None))
    warm = compute_realtime_features(ctx, redis=redis_client, pool=pool)
    # Then its write-back landed and the next request is served from Redis
    assert cold.sources["avg_ticket_hold_time"] == "postgres"
    assert warm.sources["avg_ticket_hold_time"] == "redis"
    assert warm.values["avg_ticket_hold_time"] == 3.5


def test_given_the_race_on_the_scoring_path_then_the_prefetched_generation_guards_the_write_back(
    db: psycopg.Connection,
    api_market: Market,
    redis_client: redis_lib.Redis,
    api_state: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the old snapshot, and a batch job publishing right after scoring's PostgreSQL feature read
    import shared.features.realtime as realtime

    wallet = api_market.honest_wallet
    _old_snapshot(db, wallet)
    read_row = realtime.facts_from_row

    def read_then_publish(row: tuple[Any, ...]) -> Any:
        facts = read_row(row)
        run_feature_job(db, "hourly", redis=redis_client)
        return facts

    # (the scoring path reads the facts beside its lookup query, and takes its row here)
    monkeypatch.setattr(realtime, "facts_from_row", read_then_publish)
    # When a purchase is scored (its feature read prefetched on the request's first round trip)
    request = PredictRequest(
        transaction_id="t-race", wallet_address=wallet, ticket_id=api_market.ticket_ids[0], price_paid=80.0
    )
    response = score_transaction(request, client_ip=CLIENT_IP)
    # Then it was scored, and the old snapshot was not cached
    assert response.fraud_score is not None and not response.degraded
    assert redis_client.hget(f"tg:f:wallet:{wallet}", "hold_time") is None

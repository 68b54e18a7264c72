"""The pricing experiment against the real stores: sticky assignment (also under concurrent first
calls), reward attribution from the ingested sales (BLOCKED and charged-back orders excluded),
concurrency-safe hot statistics in Redis, guardrails and the kill switch, bad input."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
import redis as redis_lib

from shared.errors import NotFound, ValidationFailed
from shared.pricing import stats as hot
from shared.pricing.models import AssignRequest
from shared.pricing.policy import ArmStats
from shared.pricing.rewards import settle
from shared.pricing.service import assign, experiment_state, set_kill_switch

SALE = datetime(2026, 11, 1, tzinfo=UTC)
SHOW = SALE + timedelta(days=10)
AFTER = SHOW + timedelta(days=1)
WALLET = "0x" + "11" * 20


def _event(db: psycopg.Connection, event_id: int, capacity: int = 10, face: str = "100.00") -> None:
    db.execute(
        "INSERT INTO marketplace.events (event_id, name, venue, city, country, category, capacity, face_value,"
        " sale_starts_at, starts_at, created_at) VALUES (%s, 'Show', 'Hall', 'Oslo', 'NO', 'concert', %s, %s,"
        " %s, %s, %s)",
        (event_id, capacity, Decimal(face), SALE, SHOW, SALE - timedelta(days=1)),
    )


def _buyer(db: psycopg.Connection) -> None:
    db.execute(
        "INSERT INTO marketplace.users (user_id, email, display_name, country, created_at)"
        " VALUES (1, 'a@example.com', 'A', 'NO', %s) ON CONFLICT DO NOTHING",
        (SALE - timedelta(days=90),),
    )
    db.execute(
        "INSERT INTO marketplace.wallets (address, user_id, created_at) VALUES (%s, 1, %s) ON CONFLICT DO NOTHING",
        (WALLET, SALE - timedelta(days=90)),
    )


def _sale(db: psycopg.Connection, order_id: int, event_id: int, price: str, status: str = "completed") -> str:
    _buyer(db)
    txn = f"txn_{order_id}"
    db.execute(
        "INSERT INTO marketplace.tickets (ticket_id, event_id, seat, face_value, minted_at)"
        " VALUES (%s, %s, %s, 100, %s)",
        (order_id, event_id, f"S{order_id}", SALE),
    )
    db.execute(
        "INSERT INTO marketplace.orders (order_id, transaction_id, ticket_id, event_id, buyer_user_id, buyer_wallet,"
        " kind, price, fee, payment_type, payment_instrument, client_ip, status, created_at)"
        " VALUES (%s, %s, %s, %s, 1, %s, 'primary', %s, 0, 'card', 'fp', '198.51.100.1', %s, %s)",
        (order_id, txn, order_id, event_id, WALLET, Decimal(price), status, SALE + timedelta(days=1)),
    )
    return txn


def _decided(db: psycopg.Connection, txn: str, decision: str) -> None:
    db.execute(
        "INSERT INTO intel.fraud_predictions (transaction_id, wallet_address, ticket_id, price_paid, decision,"
        " features, top_features, model_version) VALUES (%s, %s, '1', 100, %s, '{}', '{}', 'test')",
        (txn, WALLET, decision),
    )


@pytest.fixture
def pricing_db(db: psycopg.Connection, redis_url: str) -> psycopg.Connection:
    """A fresh database and a flushed Redis (REDIS_URL set: the hot statistics are on)."""
    return db


def test_given_an_event_when_assigned_again_and_again_then_it_keeps_its_first_arm(pricing_db) -> None:
    # Given an event on sale
    _event(pricing_db, 1)
    # When it is assigned 30 times with different random draws
    first = assign(pricing_db, AssignRequest(event_id=1), SALE, random.Random(0))
    again = [
        assign(pricing_db, AssignRequest(event_id=1), SALE, random.Random(seed)) for seed in range(1, 30)
    ]
    # Then only the first call assigned it, and every call answers the same arm and price
    assert first.new and not any(a.new for a in again)
    assert {a.arm for a in again} == {first.arm}
    assert {a.price.amount for a in again} == {first.price.amount}


def test_given_concurrent_first_calls_when_they_race_then_all_see_the_one_stored_arm(
    pricing_db, database_url: str
) -> None:
    # Given 40 events, each assigned by 8 threads at once (epsilon 1: the draws disagree often)
    for event_id in range(1, 41):
        _event(pricing_db, event_id)
    barrier = threading.Barrier(8)

    def race(seed: int) -> list[str]:
        with psycopg.connect(database_url, autocommit=True) as conn:
            barrier.wait()
            return [
                assign(conn, AssignRequest(event_id=e), SALE, random.Random(seed * 1000 + e)).arm
                for e in range(1, 41)
            ]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TG_PRICING_EPSILON", "1.0")
        from shared.config import get_settings

        get_settings.cache_clear()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(race, range(8)))
        get_settings.cache_clear()
    # Then per event, every thread answered the stored arm
    stored = dict(pricing_db.execute("SELECT event_id, arm FROM pricing.assignments").fetchall())
    assert len(stored) == 40
    for thread in answers:
        assert [stored[e] for e in range(1, 41)] == thread


def test_given_sales_when_settled_then_blocked_and_charged_back_revenue_does_not_count(pricing_db) -> None:
    # Given an assigned event (capacity 10, face 100) with five primary sales at 120
    _event(pricing_db, 7)
    arm = assign(pricing_db, AssignRequest(event_id=7), SALE, random.Random(3)).arm
    kept = _sale(pricing_db, 101, 7, "120.00")
    _decided(pricing_db, kept, "APPROVED")
    _decided(pricing_db, _sale(pricing_db, 102, 7, "120.00"), "BLOCKED")
    _sale(pricing_db, 103, 7, "120.00", status="charged_back")
    labelled = _sale(pricing_db, 104, 7, "120.00")
    pricing_db.execute(
        "INSERT INTO intel.fraud_labels (transaction_id, is_fraud, source, labelled_at) VALUES (%s, true, 'chargeback', %s)",
        (labelled, AFTER),
    )
    _sale(pricing_db, 105, 7, "120.00", status="refunded")
    _decided(pricing_db, _sale(pricing_db, 106, 7, "120.00"), "MANUAL_REVIEW")
    # When the rewards settle after the event
    settled = settle(pricing_db, redis_lib.Redis.from_url(_url()), AFTER)
    # Then only the approved and the reviewed sale count: 240 of a face revenue of 1000
    assert [(s.event_id, s.arm, s.reward) for s in settled] == [(7, arm, pytest.approx(0.24))]
    row = pricing_db.execute(
        "SELECT revenue, sold, excluded FROM pricing.rewards WHERE event_id = 7"
    ).fetchone()
    assert row == (Decimal("240.00"), 2, 3)
    # And a second run changes nothing (idempotent)
    assert settle(pricing_db, redis_lib.Redis.from_url(_url()), AFTER) == []


def test_given_a_late_chargeback_when_settled_again_then_the_reward_is_revised_in_both_stores(
    pricing_db,
) -> None:
    # Given a settled event with two counted sales
    _event(pricing_db, 8)
    arm = assign(pricing_db, AssignRequest(event_id=8), SALE, random.Random(5)).arm
    _sale(pricing_db, 201, 8, "100.00")
    late = _sale(pricing_db, 202, 8, "100.00")
    client = redis_lib.Redis.from_url(_url())
    settle(pricing_db, client, AFTER)
    assert hot.hot_stats(client, pricing_db)[arm] == ArmStats(1, pytest.approx(0.2), pytest.approx(0.04))
    # When one of them is charged back weeks later and the rewards settle again
    pricing_db.execute(
        "UPDATE marketplace.orders SET status = 'charged_back' WHERE transaction_id = %s", (late,)
    )
    settle(pricing_db, client, AFTER + timedelta(days=30))
    # Then the arm still has one event, now with reward 0.1, in Redis and in PostgreSQL alike
    expected = ArmStats(1, pytest.approx(0.1), pytest.approx(0.01))
    assert hot.hot_stats(client, pricing_db)[arm] == expected
    assert hot.durable_stats(pricing_db)[arm] == expected


def test_given_many_threads_recording_rewards_when_done_then_redis_sums_are_exact(pricing_db) -> None:
    # Given 200 assigned events with settled rewards in PostgreSQL, and the hot keys built empty
    client = redis_lib.Redis.from_url(_url())
    hot.warm(client, pricing_db)
    rewards = {}
    for event_id in range(1, 201):
        _event(pricing_db, event_id)
        arm = "ABCD"[event_id % 4]
        pricing_db.execute(
            "INSERT INTO pricing.assignments (event_id, arm, explored, price_floor, price_ceiling, assigned_at)"
            " VALUES (%s, %s, false, 0, 1000, %s)",
            (event_id, arm, SALE),
        )
        rewards[event_id] = (arm, event_id / 400)
    barrier = threading.Barrier(8)

    def record(worker: int) -> None:
        own = redis_lib.Redis(connection_pool=client.connection_pool)
        barrier.wait()
        # Every thread records every event (the same reward: settlers racing on the same rows), and
        # a first, different reward is revised by each thread's second write.
        for event_id, (arm, reward) in rewards.items():
            hot.RECORD.run(own, [hot.REWARDS_KEY, hot.ARMS_KEY], [event_id, arm, repr(reward + worker)])
            hot.RECORD.run(own, [hot.REWARDS_KEY, hot.ARMS_KEY], [event_id, arm, repr(reward)])

    # When 8 threads record 3,200 updates at once
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(record, range(8)))
    # Then each arm counts its 50 events once, with the exact sums
    stats = hot.hot_stats(client, pricing_db)
    for arm in "ABCD":
        values = [r for a, r in rewards.values() if a == arm]
        assert stats[arm].n == 50
        assert stats[arm].total == pytest.approx(sum(values), abs=1e-9)
        assert stats[arm].squares == pytest.approx(sum(v * v for v in values), abs=1e-9)


def test_given_a_flushed_redis_when_read_then_the_hot_statistics_are_rebuilt_from_postgresql(
    pricing_db,
) -> None:
    # Given a settled event, then Redis losing everything
    _event(pricing_db, 9)
    arm = assign(pricing_db, AssignRequest(event_id=9), SALE, random.Random(2)).arm
    _sale(pricing_db, 301, 9, "150.00")
    client = redis_lib.Redis.from_url(_url())
    settle(pricing_db, client, AFTER)
    client.flushall()
    # When the experiment's state is read
    state = experiment_state(pricing_db)
    # Then it comes from Redis, rebuilt with the settled reward
    assert state.statistics_source == "redis"
    by_arm = {a.arm: a for a in state.arms}
    assert (by_arm[arm].events_settled, by_arm[arm].mean_reward) == (1, 0.15)
    assert by_arm[arm].revenue == Decimal("150.00") and by_arm[arm].sell_through == 0.1


def test_given_guardrails_and_kill_switch_when_quoting_then_they_hold(pricing_db) -> None:
    # Given an event assigned arm C with a ceiling of 105 (C quotes +20% = 120 in the last 48 h)
    _event(pricing_db, 11)
    pricing_db.execute(
        "INSERT INTO pricing.assignments (event_id, arm, explored, price_floor, price_ceiling, assigned_at)"
        " VALUES (11, 'C', false, 95, 105, %s)",
        (SALE,),
    )
    late = SHOW - timedelta(hours=2)
    capped = assign(pricing_db, AssignRequest(event_id=11), late)
    assert (capped.arm, capped.price.amount, capped.price.clamped) == ("C", Decimal("105.00"), "ceiling")
    # When the guardrails are widened by a later call Then the strategy's price shows, the arm unchanged
    wide = assign(pricing_db, AssignRequest(event_id=11, price_ceiling=Decimal("200.00")), late)
    assert (wide.arm, wide.price.amount, wide.price.ceiling) == ("C", Decimal("120.00"), Decimal("200.00"))
    # When the kill switch is set Then arm A's fixed price is quoted, the assignment kept
    set_kill_switch(pricing_db, True, "pricing incident")
    killed = assign(pricing_db, AssignRequest(event_id=11), late)
    assert (killed.arm, killed.served_arm, killed.price.amount, killed.kill_switch) == (
        "C",
        "A",
        Decimal("100.00"),
        True,
    )
    assert experiment_state(pricing_db).kill_reason == "pricing incident"
    # When it is lifted Then arm C prices again
    set_kill_switch(pricing_db, False, None)
    assert assign(pricing_db, AssignRequest(event_id=11), late).price.amount == Decimal("120.00")


def test_given_bad_input_then_it_is_refused_naming_the_field(pricing_db) -> None:
    _event(pricing_db, 12)
    # Given an unknown event Then NotFound on event_id
    with pytest.raises(NotFound) as unknown:
        assign(pricing_db, AssignRequest(event_id=999), SALE)
    assert unknown.value.field == "event_id"
    # Given a floor above the stored ceiling Then ValidationFailed on price_floor
    assign(pricing_db, AssignRequest(event_id=12), SALE, random.Random(1))
    with pytest.raises(ValidationFailed) as inverted:
        assign(pricing_db, AssignRequest(event_id=12, price_floor=Decimal("500.00")), SALE)
    assert inverted.value.field == "price_floor"


def _url() -> str:
    import os

    return os.environ["REDIS_URL"]

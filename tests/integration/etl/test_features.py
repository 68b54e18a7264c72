"""The ten features against hand-computed values, and the three paths (batch tables + real-time,
Redis and PostgreSQL, and the point-in-time training set) agreeing on the same transactions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis as redis_lib
from psycopg_pool import ConnectionPool
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.chain.synthetic import SyntheticChain
from shared.errors import DependencyUnavailable
from shared.etl.pipeline import run_etl_incremental
from shared.features.batch import run_feature_job
from shared.features.cadence import DAILY, EPOCH, HOURLY
from shared.features.definitions import MODEL_FEATURES
from shared.features.realtime import ScoringContext, compute_realtime_features, record_purchase
from shared.features.training import build_training_set
from shared.geo import CAPITALS, great_circle_km
from tests.fixtures.etl import CONTRACT, IP_DE, IP_FR, IP_GB, IP_JP, IP_US, T0, Market, new_chain
from tests.fixtures.features import (
    PURCHASES_SQL,
    disagreements,
    feature_job_firings,
    replay_at_production_cadence,
)

WEI = 10**15


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@dataclass
class Scenario:
    w1: str
    w2: str
    w3: str
    e1: int
    e2: int
    k6: int
    k7: int
    target: str  # W1 buys k6 at T0 for 60 USD from London
    chain: SyntheticChain


def build_scenario(db: psycopg.Connection, market: Market) -> Scenario:
    """W1 (user U1) buys k1 (E1) at -40h from the US, k3 (E2) at -20h from the US, resells k1 to W3
    at -10h, buys k5 (E1) at -30 min from Japan, then the target k6 (E1) at T0 from London.
    W2 buys k2 at -30h and k4 at -3h (E1) from London."""
    u1, u2, u3 = market.user(), market.user(), market.user()
    w1, w2, w3 = market.wallet(u1), market.wallet(u2), market.wallet(u3)
    e1 = market.event(capacity=10, face_value="50.00")
    e2 = market.event(capacity=4, face_value="100.00")
    minted = T0 - timedelta(days=10)
    k1, k2, k4, k5, k6, k7 = (market.ticket(e1, minted_at=minted) for _ in range(6))
    k3 = market.ticket(e2, minted_at=minted, face_value="100.00")

    chain = new_chain()
    ts = lambda at: int(at.timestamp())  # noqa: E731
    chain.create_event(e1, 10, 50 * WEI, at=ts(h(-48)))
    chain.create_event(e2, 4, 100 * WEI, at=ts(h(-48)))
    for k in (k1, k2, k4, k5, k6, k7):
        chain.mint_batch(e1, k, 1, at=ts(h(-45)))
    chain.mint_batch(e2, k3, 1, at=ts(h(-45)))

    market.order(k1, w1, at=h(-40), price="50.00", ip=IP_US, instrument="card-A")
    chain.buy_primary_for(k1, w1, 50 * WEI, at=ts(h(-40)))
    market.order(k2, w2, at=h(-30), price="50.00", ip=IP_GB, instrument="card-B")
    chain.buy_primary_for(k2, w2, 50 * WEI, at=ts(h(-30)))
    market.order(k3, w1, at=h(-20), price="100.00", ip=IP_US, instrument="card-A")
    chain.buy_primary_for(k3, w1, 100 * WEI, at=ts(h(-20)))
    chain.list_for(k1, 80 * WEI, at=ts(h(-11)))
    market.order(
        k1, w3, at=h(-10), price="80.00", fee="8.00", seller_wallet=w1, ip=IP_FR, instrument="card-C"
    )
    chain.buy_resale_for(k1, w3, 80 * WEI, at=ts(h(-10)))
    market.order(k4, w2, at=h(-3), price="50.00", ip=IP_GB, instrument="card-B")
    chain.buy_primary_for(k4, w2, 50 * WEI, at=ts(h(-3)))
    market.order(k5, w1, at=h(-0.5), price="50.00", ip=IP_JP, instrument="wallet-W1")
    chain.buy_primary_for(k5, w1, 50 * WEI, at=ts(h(-0.5)))
    target = market.order(k6, w1, at=T0, price="60.00", ip=IP_GB, instrument="card-A")
    chain.buy_primary_for(k6, w1, 50 * WEI, at=ts(T0))
    chain.advance_to(ts(h(1)))
    return Scenario(w1, w2, w3, e1, e2, k6, k7, target, chain)


def load(db: psycopg.Connection, scenario: Scenario) -> None:
    run_etl_incremental(db, log_source=scenario.chain, contract_address=CONTRACT, confirmations=0)


def expected_target_features() -> dict[str, float]:
    # Scored at T0 (noon) with the hourly snapshot of 11:00 (T0 - 1 h) and the daily one of 00:00
    # (T0 - 12 h): shared/features/cadence.py.
    # PageRank of the graph of transfers in the 30 days before 2026-03-02 00:00 (T0 - 12 h):
    # organizer -> W1 (k1 at -40h, k3 at -20h, weight 2), organizer -> W2 (k2 at -30h, weight 1);
    # W1 and W2 are dangling. Closed form: r_org = (0.05 + 0.85/3) / (1 + 0.85/3),
    # r_W1 = r_org * (1 + 0.85 * 2/3).
    r_org = (0.05 + 0.85 / 3) / (1 + 0.85 / 3)
    return {
        "txn_velocity_1h": 1.0,  # k5 at -30 min
        # W1 was registered with the marketplace 90 days before T0 (tests/fixtures/etl.Market.wallet),
        # long before its first Transfer (-40 h): the marketplace's record, not when we first saw it
        "wallet_age_days": 90.0,
        "avg_ticket_hold_time": 30.0,  # k1 held from -40 h to -10 h
        # Before -1 h: E1 sold 3 tickets (k1, k2, k4) of 10; in [-25 h, -1 h) E1 had 2 sales (k1
        # resale, k4), E2 1 (k3), so E1 is the busiest. k5 at -30 min is after the snapshot.
        "event_popularity_score": 0.5 * 0.3 + 0.5 * 2 / 2,
        "price_deviation_ratio": (60 - 50) / 50,  # median of E1's 50, 50, 80, 50 before -1 h
        "cross_event_attendance": 2.0,  # E1 (k1) and E2 (k3) before -12 h
        "geo_velocity_flag": 1.0,  # Tokyo at -30 min -> London now: ~9,600 km in 0.5 h
        "payment_method_diversity": 1.0,  # card-A at -40 h and -20 h; wallet-W1 (-30 min) is after
        "wallet_centrality": r_org * (1 + 0.85 * 2 / 3),
        "resale_time": 240.0,  # minted 10 days before
        # The signals (shared/features/signals.py), the request's fingerprint being the order's card-A:
        "account_age_days": 100.0,  # U1 registered 100 days before T0
        "payment_instruments_24h": 2.0,  # card-A (k3 at -20 h, and now), wallet-W1 (k5 at -30 min)
        "instrument_wallets_7d": 0.0,  # nobody else paid with card-A
        "failed_logins_1h": 0.0,
        "new_device": 0.0,  # no session history to differ from
        "new_ip": 0.0,
        "resale_cycle_length": 0.0,  # a primary sale
        "foreign_ip": 1.0,  # U1 registered in the US, buys from London
    }


def assert_features(actual: dict[str, float | None], expected: dict[str, float | None]) -> None:
    assert set(actual) == set(MODEL_FEATURES)
    for name in MODEL_FEATURES:
        if expected[name] is None:
            assert actual[name] is None or math.isnan(actual[name]), name  # type: ignore[arg-type]
        else:
            assert actual[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-12), name


def test_geo_scenario_distance_is_what_the_flag_claims() -> None:
    # Given the capitals the scenario uses, Then Tokyo-London is > 450 km in half an hour
    assert great_circle_km(*CAPITALS["JP"], *CAPITALS["GB"]) / 0.5 > 900
    assert great_circle_km(*CAPITALS["US"], *CAPITALS["JP"]) / 19.5 < 900


@pytest.fixture
def scenario(db: psycopg.Connection, market: Market) -> Scenario:
    built = build_scenario(db, market)
    load(db, built)
    return built


@pytest.fixture
def pool(database_url: str) -> ConnectionPool:
    with ConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as opened:
        yield opened


def test_training_set_matches_hand_computed_features(db: psycopg.Connection, scenario: Scenario) -> None:
    # When the training set covering the target transaction is built
    frame = build_training_set(db, T0 - timedelta(days=3), T0 + timedelta(seconds=1))
    # Then the columns are in the agreed order and the target row has the hand-computed values
    assert list(frame.columns) == ["transaction_id", "occurred_at", *MODEL_FEATURES, "is_fraud"]
    row = frame.set_index("transaction_id").loc[scenario.target]
    assert_features({n: float(row[n]) for n in MODEL_FEATURES}, expected_target_features())
    assert row["is_fraud"] == 0


def test_realtime_from_postgres_and_redis_match_hand_computed_features(
    db: psycopg.Connection, scenario: Scenario, pool: ConnectionPool, redis_client: redis_lib.Redis
) -> None:
    # Given the daily feature job ran as of the target's time
    run_feature_job(db, "daily", as_of=T0)
    ctx = ScoringContext(scenario.w1, scenario.k6, 60.0, IP_GB, T0, payment_fingerprint="card-A")
    # When the real-time features are computed with a cold cache, then again with a warm one
    cold = compute_realtime_features(ctx, redis=redis_client, pool=pool)
    warm = compute_realtime_features(ctx, redis=redis_client, pool=pool)
    # Then both equal the hand-computed values; the first came from PostgreSQL, the second from Redis
    assert_features(cold.values, expected_target_features())
    assert_features(warm.values, expected_target_features())
    assert cold.sources["txn_velocity_1h"] == "postgres" and warm.sources["txn_velocity_1h"] == "redis"
    assert not cold.degraded and not warm.degraded
    assert redis_client.ttl(f"tg:f:wallet:{scenario.w1}") <= 300


def test_three_paths_agree_on_every_transaction_at_production_cadence(
    db: psycopg.Connection, scenario: Scenario, pool: ConnectionPool, redis_client: redis_lib.Redis
) -> None:
    # Given the training set of the whole scenario
    frame = build_training_set(db, T0 - timedelta(days=3), T0 + timedelta(hours=1))
    purchases = db.execute(PURCHASES_SQL).fetchall()
    assert len(frame) == len(purchases) == 7
    # When the purchases are scored in time order while the feature jobs fire on their schedule
    # (hourly at HH:20, daily at 02:20), Redis carrying its state from one purchase to the next
    served = replay_at_production_cadence(db, redis_client, pool, purchases)
    # Then what the scoring path served (live, warm, PostgreSQL only) is each purchase's training row
    assert disagreements(frame, served) == []
    # And the replay crossed both kinds of run (hourly and daily)
    firings = feature_job_firings(purchases[0][5], purchases[-1][5])
    assert {mode for _, mode in firings} == {"hourly", "daily"}


def test_a_purchase_before_the_hourly_run_is_scored_with_the_previous_snapshot(
    db: psycopg.Connection, scenario: Scenario, pool: ConnectionPool
) -> None:
    # Given the jobs ran on schedule up to 10:06 (T0 - 1.9 h): the hourly run of 10:00 is due at 10:20
    run_feature_job(db, "daily", as_of=h(-1.9))
    event_snapshot = "SELECT as_of FROM intel.event_features WHERE event_id = %s"
    assert db.execute(event_snapshot, (scenario.e1,)).fetchone() == (h(-3),)
    # When W2 buys k7 at 10:10
    at_10_10 = compute_realtime_features(
        ScoringContext(scenario.w2, scenario.k7, 50.0, IP_GB, h(-1 - 50 / 60)), redis=None, pool=pool
    ).values
    # Then E1 is as of 09:00, without W2's k4 purchase of 09:00: 2 of 10 sold, 1 sale in 24 h
    # (the k1 resale), as many as E2 (k3)
    assert at_10_10["event_popularity_score"] == pytest.approx(0.5 * 0.2 + 0.5 * 1 / 1)
    # And once the 10:20 run is done, a purchase at 10:25 sees 10:00, k4 included
    run_feature_job(db, "hourly", as_of=h(-1 - 40 / 60))
    assert db.execute(event_snapshot, (scenario.e1,)).fetchone() == (h(-2),)
    at_10_25 = compute_realtime_features(
        ScoringContext(scenario.w2, scenario.k7, 50.0, IP_GB, h(-1 - 35 / 60)), redis=None, pool=pool
    ).values
    assert at_10_25["event_popularity_score"] == pytest.approx(0.5 * 0.3 + 0.5 * 2 / 2)


def test_sql_and_python_agree_on_the_snapshot_in_force(db: psycopg.Connection) -> None:
    # Given times around the boundaries of both cadences, one microsecond apart
    day = datetime(2026, 3, 2, tzinfo=UTC)
    times = [
        day + delay + timedelta(hours=hour, microseconds=us)
        for delay in (HOURLY.publish_delay, DAILY.publish_delay)
        for hour in (-24, -1, 0, 5)
        for us in (-1, 0, 1)
    ]
    for at in times:
        # When PostgreSQL bins them as the training-set builder does
        hourly, daily = db.execute(
            "SELECT date_bin(%s, %s::timestamptz - %s, %s), date_bin(%s, %s::timestamptz - %s, %s)",
            (HOURLY.period, at, HOURLY.publish_delay, EPOCH, DAILY.period, at, DAILY.publish_delay, EPOCH),
        ).fetchone()
        # Then it picks the same slot as Cadence.snapshot_at
        assert (hourly, daily) == (HOURLY.snapshot_at(at), DAILY.snapshot_at(at)), at


def test_a_future_row_does_not_change_a_past_training_row(
    db: psycopg.Connection, market: Market, scenario: Scenario
) -> None:
    # Given the training set for the scenario
    window = (T0 - timedelta(days=3), T0 + timedelta(seconds=1))
    before = build_training_set(db, *window).set_index("transaction_id").loc[scenario.target]
    # When later activity arrives: W1 buys k7 from Berlin 10 min later, resells k6, and gets labelled
    market.order(scenario.k7, scenario.w1, at=h(0.2), price="500.00", ip=IP_DE, instrument="card-Z")
    scenario.chain.buy_primary_for(scenario.k7, scenario.w1, 50 * WEI, at=int(h(0.2).timestamp()))
    scenario.chain.list_for(scenario.k6, 90 * WEI, at=int(h(0.3).timestamp()))
    scenario.chain.buy_resale_for(scenario.k6, scenario.w2, 90 * WEI, at=int(h(0.4).timestamp()))
    scenario.chain.advance_to(int(h(2).timestamp()))
    load(db, scenario)
    db.execute(
        "INSERT INTO intel.fraud_labels (transaction_id, is_fraud, source, labelled_at) VALUES (%s, true, 'chargeback', %s)",
        (scenario.target, h(48)),
    )
    after = build_training_set(db, *window).set_index("transaction_id").loc[scenario.target]
    # Then every feature of the past row is unchanged; only its label arrived
    for name in MODEL_FEATURES:
        assert after[name] == pytest.approx(before[name], nan_ok=True), name
    assert (before["is_fraud"], after["is_fraud"]) == (0, 1)


def test_record_purchase_moves_the_velocity_window_and_last_location(
    db: psycopg.Connection, scenario: Scenario, pool: ConnectionPool, redis_client: redis_lib.Redis
) -> None:
    # Given the target purchase was scored (cache warm) and recorded
    run_feature_job(db, "daily", as_of=T0)
    ctx = ScoringContext(scenario.w1, scenario.k6, 60.0, IP_GB, T0)
    compute_realtime_features(ctx, redis=redis_client, pool=pool)
    assert record_purchase(ctx, redis_client)
    # When W1 buys again 5 minutes later, from London again, then 10 minutes later from Tokyo
    again = compute_realtime_features(
        ScoringContext(scenario.w1, scenario.k7, 50.0, IP_GB, h(5 / 60)), redis=redis_client, pool=pool
    )
    record_purchase(ScoringContext(scenario.w1, scenario.k7, 50.0, IP_GB, h(5 / 60)), redis_client)
    tokyo = compute_realtime_features(
        ScoringContext(scenario.w1, scenario.k7, 50.0, IP_JP, h(15 / 60)), redis=redis_client, pool=pool
    )
    # Then the window counts the recorded purchases (k5 at -30 min, the target, the 5-minute one)
    assert again.sources["txn_velocity_1h"] == "redis"
    assert again.values["txn_velocity_1h"] == 2.0
    assert again.values["geo_velocity_flag"] == 0.0  # London -> London
    assert tokyo.values["txn_velocity_1h"] == 3.0
    assert tokyo.values["geo_velocity_flag"] == 1.0  # London -> Tokyo in 10 minutes


def test_a_wallet_that_bought_minutes_ago_is_not_new_before_the_etl_loads_the_purchase(
    db: psycopg.Connection, scenario: Scenario, pool: ConnectionPool, redis_client: redis_lib.Redis
) -> None:
    # Given a wallet nobody has seen buys k6 at T0 (scored and recorded; no ETL since)
    run_feature_job(db, "daily", as_of=T0)
    stranger = "0x" + "cd" * 20
    first = ScoringContext(stranger, scenario.k6, 60.0, IP_GB, T0)
    assert compute_realtime_features(first, redis=redis_client, pool=pool).values["wallet_age_days"] == 0.0
    assert record_purchase(first, redis_client)
    # When it tries k6 again ten minutes later: the ticket and wallet entries are still cached
    cached = compute_realtime_features(
        ScoringContext(stranger, scenario.k6, 60.0, IP_GB, h(10 / 60)), redis=redis_client, pool=pool
    )
    # Then its age counts from the first purchase, as the training row will once the ETL loads it
    assert cached.sources["wallet_age_days"] == "redis"
    assert cached.values["wallet_age_days"] == pytest.approx(10 / 1440)
    # And so it does for k7 at 20 minutes, whose ticket PostgreSQL serves
    second = ScoringContext(stranger, scenario.k7, 60.0, IP_GB, h(20 / 60))
    served = compute_realtime_features(second, redis=redis_client, pool=pool)
    assert served.sources["wallet_age_days"] == "postgres"
    assert served.values["wallet_age_days"] == pytest.approx(20 / 1440)
    assert served.values["txn_velocity_1h"] == 1.0
    # And with Redis down, PostgreSQL (which has not loaded the purchase yet) still sees a new wallet
    degraded = compute_realtime_features(second, redis=None, pool=pool)
    assert degraded.values["wallet_age_days"] == 0.0


def dead_redis() -> redis_lib.Redis:
    """A client for a port nobody listens on, failing fast (no retries)."""
    return redis_lib.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )


def test_redis_down_falls_back_to_postgres_degraded(
    db: psycopg.Connection, scenario: Scenario, pool: ConnectionPool
) -> None:
    # Given a Redis client pointing at nothing
    dead = dead_redis()
    run_feature_job(db, "daily", as_of=T0)
    # When features are computed
    result = compute_realtime_features(
        ScoringContext(scenario.w1, scenario.k6, 60.0, IP_GB, T0, payment_fingerprint="card-A"),
        redis=dead,
        pool=pool,
    )
    # Then PostgreSQL served them, flagged degraded, with the same values
    assert result.degraded
    assert_features(result.values, expected_target_features())
    assert not record_purchase(ScoringContext(scenario.w1, scenario.k6, 60.0, IP_GB, T0), dead)


def test_postgres_down_too_raises_dependency_unavailable(scenario: Scenario) -> None:
    dead = dead_redis()
    with (
        ConnectionPool(
            "postgresql://x@127.0.0.1:1/none", min_size=0, max_size=1, timeout=0.5, open=True
        ) as dead_pool,
        pytest.raises(DependencyUnavailable),
    ):
        compute_realtime_features(
            ScoringContext(scenario.w1, scenario.k6, 60.0, IP_GB, T0), redis=dead, pool=dead_pool
        )


def test_unknown_ticket_is_scored_without_its_ticket_features(
    scenario: Scenario, pool: ConnectionPool, redis_client: redis_lib.Redis
) -> None:
    # Given a token id no ticket row carries, and a marketplace text id
    for ticket_id in (999_999, "evt_xyz_001"):
        # When its features are computed
        result = compute_realtime_features(
            ScoringContext(scenario.w1, ticket_id, 60.0, IP_GB, T0), redis=redis_client, pool=pool
        )
        # Then the ticket's features are missing and said to be, the wallet's are there
        assert result.unavailable == [
            "event_popularity_score",
            "price_deviation_ratio",
            "resale_time",
            "instrument_wallets_7d",  # no payment fingerprint in the request
        ]
        assert all(result.values[name] is None for name in result.unavailable)
        assert result.values["txn_velocity_1h"] is not None and result.values["wallet_age_days"] is not None
        # And nothing about the unknown ticket was cached (it may be registered any moment)
        assert redis_client.exists(f"tg:f:ticket:{ticket_id}") == 0


def test_unknown_wallet_gets_zero_age_and_missing_user_features(
    scenario: Scenario, pool: ConnectionPool, db: psycopg.Connection
) -> None:
    run_feature_job(db, "daily", as_of=T0)
    stranger = "0x" + "ab" * 20
    result = compute_realtime_features(
        ScoringContext(stranger, scenario.k6, 60.0, None, T0), redis=None, pool=pool
    )
    assert result.values["wallet_age_days"] == 0.0
    assert result.values["txn_velocity_1h"] == 0.0
    assert result.values["avg_ticket_hold_time"] is None
    assert result.values["payment_method_diversity"] is None
    assert result.values["cross_event_attendance"] == 0.0
    assert result.values["wallet_centrality"] == 0.0
    assert result.values["geo_velocity_flag"] == 0.0


def test_a_wallet_the_etl_has_not_loaded_yet_is_resolved_to_its_account_in_the_backend(
    db: psycopg.Connection, market: Market, scenario: Scenario, pool: ConnectionPool
) -> None:
    # Given W1's owner links a second wallet in the backend ten minutes before T0, after the last ETL run
    run_feature_job(db, "daily", as_of=T0)
    [owner] = db.execute("SELECT user_id FROM intel.wallets WHERE address = %s", (scenario.w1,)).fetchone()
    second = market.wallet(owner, created_at=T0 - timedelta(minutes=10))
    assert db.execute("SELECT 1 FROM intel.wallets WHERE address = %s", (second,)).fetchone() is None
    # When it buys at T0 from London
    served = compute_realtime_features(
        ScoringContext(second, scenario.k6, 60.0, IP_GB, T0), redis=None, pool=pool
    ).values
    # Then the account's features are its owner's: payment diversity, and Tokyo 30 minutes ago
    assert served["payment_method_diversity"] == 1.0
    assert served["geo_velocity_flag"] == 1.0
    # And the wallet's own are those of a wallet registered ten minutes ago that never held a ticket
    assert served["wallet_age_days"] == pytest.approx(10 / 1440)
    assert (served["cross_event_attendance"], served["txn_velocity_1h"]) == (0, 0)
    assert served["avg_ticket_hold_time"] is None


def test_batch_tables_hold_the_hand_computed_values(db: psycopg.Connection, scenario: Scenario) -> None:
    # When the daily job runs as of T0
    summary = run_feature_job(db, "daily", as_of=T0)
    # Then the entity tables hold the expected values
    expected = expected_target_features()
    popularity = db.execute(
        "SELECT tickets_sold, sales_24h, max_sales_24h, event_popularity_score, ref_price_7d, as_of "
        "FROM intel.event_features WHERE event_id = %s",
        (scenario.e1,),
    ).fetchone()
    assert popularity == (3, 2, 2, pytest.approx(expected["event_popularity_score"]), 50.0, h(-1))
    wallet = db.execute(
        "SELECT avg_ticket_hold_time, cross_event_attendance, first_seen_at FROM intel.wallet_features "
        "WHERE address = %s",
        (scenario.w1,),
    ).fetchone()
    assert wallet == (pytest.approx(30.0), 2, h(-40))
    assert db.execute(
        "SELECT payment_method_diversity, as_of FROM intel.user_features WHERE user_id = 1"
    ).fetchone() == (1, h(-12))
    assert summary.snapshots == {"hourly": h(-1), "daily": h(-12)}
    rank = db.execute(
        "SELECT pagerank FROM intel.wallet_centrality WHERE address = %s AND snapshot_day = %s",
        (scenario.w1, T0.date()),
    ).fetchone()
    assert rank == (pytest.approx(expected["wallet_centrality"]),)
    assert db.execute("SELECT count(*) FROM intel.wallet_centrality").fetchone() == (3,)
    assert summary.rows_written["wallet_centrality"] == 3
    # And running it again as of the same time changes nothing, and writes no wallet or user row
    before = db.execute("SELECT * FROM intel.event_features ORDER BY 1").fetchall()
    wallets_before = db.execute("SELECT * FROM intel.wallet_features ORDER BY 1").fetchall()
    again = run_feature_job(db, "daily", as_of=T0)
    assert db.execute("SELECT * FROM intel.event_features ORDER BY 1").fetchall() == before
    assert db.execute("SELECT * FROM intel.wallet_features ORDER BY 1").fetchall() == wallets_before
    unchanged = ("wallet_hold_time", "wallet_first_seen", "wallet_attendance", "user_payment_diversity")
    assert {name: again.rows_written[name] for name in unchanged} == dict.fromkeys(unchanged, 0)
    # And an hour later only what the hour changed is written: the first Transfers that came into view
    later = run_feature_job(db, "hourly", as_of=T0 + timedelta(hours=1))
    newly_seen = db.execute(
        "SELECT count(*) FROM intel.wallets WHERE first_seen_at >= %s AND first_seen_at < %s", (h(-1), T0)
    ).fetchone()
    assert newly_seen is not None and later.rows_written["wallet_first_seen"] == newly_seen[0]

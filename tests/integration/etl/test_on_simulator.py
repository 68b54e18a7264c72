"""The ETL, features and KPIs on the simulator's output (a small EVM-mode marketplace)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import redis as redis_lib
from psycopg_pool import ConnectionPool

from shared.features.definitions import MODEL_FEATURES
from shared.features.training import build_training_set
from shared.jobs.scheduled import run_full
from shared.kpis import compute_kpis
from tests.fixtures.features import PURCHASES_SQL, disagreements, replay_at_production_cadence


@pytest.fixture
def loaded(db: psycopg.Connection, simulated_marketplace: Any) -> Any:
    result = simulated_marketplace.result
    summary = run_full(db, result.log_source, result.contract_address, as_of=result.end)
    return result, summary


def test_full_run_loads_every_order_and_log(db: psycopg.Connection, loaded: Any) -> None:
    result, summary = loaded
    # Then every backend order is a transaction or a reject with a reason, nothing else
    orders = db.execute("SELECT count(*) FROM marketplace.orders").fetchone()[0]
    transactions = db.execute("SELECT count(*) FROM intel.transactions").fetchone()[0]
    rejected = db.execute(
        "SELECT count(*) FROM intel.etl_rejects WHERE source = 'backend.orders'"
    ).fetchone()[0]
    assert orders > 100 and transactions + rejected == orders
    # And every contract log up to the head is loaded once, with no stale block hash
    logs = result.log_source.get_logs(0, result.log_source.latest_block(), result.contract_address)
    stored = db.execute("SELECT count(*) FROM intel.chain_events").fetchone()[0]
    ignored = summary.chain.ignored
    chain_rejects = db.execute("SELECT count(*) FROM intel.etl_rejects WHERE source = 'chain'").fetchone()[0]
    assert stored + ignored + chain_rejects == len(logs) and chain_rejects == 0
    # And buyers' first on-chain activity is known (a failed payment never reaches the chain)
    unseen = db.execute(
        "SELECT count(*) FROM intel.transactions t JOIN intel.wallets w ON w.address = t.wallet_address "
        "WHERE w.first_seen_at IS NULL AND t.kind = 'primary' AND t.status <> 'failed'"
    ).fetchone()[0]
    assert unseen == 0
    # And a second run changes nothing
    again = run_full(db, result.log_source, result.contract_address, as_of=result.end)
    assert again.rows_written == 0


def test_training_set_and_kpis_on_simulated_data(db: psycopg.Connection, loaded: Any) -> None:
    result, _ = loaded
    frame = build_training_set(db, result.start, result.end)
    assert list(frame.columns) == ["transaction_id", "occurred_at", *MODEL_FEATURES, "is_fraud"]
    assert len(frame) == db.execute("SELECT count(*) FROM intel.transactions").fetchone()[0]
    # labels: exactly the window's transactions labelled fraud so far (the rest count as legitimate)
    labelled_fraud = db.execute(
        "SELECT count(*) FROM intel.fraud_labels l JOIN intel.transactions t USING (transaction_id) "
        "WHERE l.is_fraud AND t.occurred_at >= %s AND t.occurred_at < %s",
        (result.start, result.end),
    ).fetchone()[0]
    assert frame["is_fraud"].sum() == labelled_fraud
    assert frame["event_popularity_score"].between(0, 1).all()
    assert set(frame["geo_velocity_flag"].unique()) <= {0.0, 1.0}
    report = compute_kpis(db, result.start, result.end)
    assert report.counts.transactions == len(frame)
    assert report.revenue_per_hour > 0


def test_three_paths_agree_on_every_simulated_purchase_at_production_cadence(
    db: psycopg.Connection, loaded: Any, database_url: str, redis_client: redis_lib.Redis
) -> None:
    result, _ = loaded
    # Given the training set of the simulated days
    frame = build_training_set(db, result.start, result.end)
    purchases = db.execute(PURCHASES_SQL).fetchall()
    assert len(frame) == len(purchases) > 100
    # When every purchase is scored in time order while the feature jobs fire on their schedule
    with ConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        served = replay_at_production_cadence(db, redis_client, pool, purchases)
    # Then each read the scoring path made (live, warm, PostgreSQL only) is the training row
    assert disagreements(frame, served) == []
    # And the data exercised the features: new wallets, repeat buyers, resales, geo jumps, a takeover's
    # new device and a wash-trading ring's closed cycle (seed 19 shows both; with shows at steady state seed 16
    # had no wallet under a day old, 18 no cycle, 22 no repeat buyer across a daily snapshot; seed 11 no cycle)
    # (wallets registered with the marketplace minutes and months before they buy)
    assert frame["wallet_age_days"].lt(1).any() and frame["wallet_age_days"].gt(30).any()
    assert frame["payment_instruments_24h"].gt(1).any() and frame["failed_logins_1h"].gt(0).any()
    assert frame["new_device"].eq(1).any() and frame["resale_cycle_length"].gt(0).any()
    assert frame["txn_velocity_1h"].gt(0).any() and frame["geo_velocity_flag"].eq(1).any()
    assert frame["avg_ticket_hold_time"].notna().any() and frame["payment_method_diversity"].gt(0).any()
    assert frame["foreign_ip"].eq(1).any() and frame["foreign_ip"].eq(0).any()

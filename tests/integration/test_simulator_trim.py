"""`make run` posts only what its week needs (tooling.simulator.trim): the accounts the window touches, with
their registration dates and the history their features read, summarised. The promise is that no
feature of any seeded purchase can tell: the same world written whole and trimmed, each through the ETL
and the feature jobs, gives every purchase the same point-in-time features (shared.features.training,
which runs the scoring path's queries)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from shared.db.connection import with_database
from shared.features.definitions import MODEL_FEATURES
from shared.features.training import training_rows
from tooling.local.seed import run_pipeline_once
from tooling.simulator.config import SimulationConfig
from tooling.simulator.run import simulate

END = datetime(2026, 11, 20, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("contract_artifacts")


@pytest.fixture
def second_database(services: Any, template_database: str) -> Iterator[str]:
    name = f"tg_trim_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE tg_template")
    yield with_database(services.database_url, name)
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _seeded(url: str, redis_url: str, *, trim: bool) -> tuple[Any, dict[str, tuple[Any, ...]]]:
    """The world written (whole or trimmed), the pipeline once, and each purchase's training row."""
    config = SimulationConfig(
        seed=7, days=3, transactions_per_day=200, end=END, demo_cast=True, trim_to_window=trim
    )
    with psycopg.connect(url) as conn:
        result = simulate(conn, config)
        conn.commit()
    run_pipeline_once(url, redis_url, result)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = training_rows(conn, config.start - timedelta(days=30), config.end)
    return result, {row[0]: tuple(row) for row in rows}


def test_given_the_same_world_whole_and_trimmed_then_every_purchase_has_the_same_features(
    database_url: str, second_database: str, redis_url: str
) -> None:
    # Given one seed's 3-day world with the demo cast, written whole into one database and trimmed
    # into another, each through the ETL and the feature jobs
    whole, whole_rows = _seeded(database_url, redis_url, trim=False)
    trimmed, trimmed_rows = _seeded(second_database, redis_url, trim=True)
    # Then the trim left most of the population and its history out
    kept = trimmed.trimmed
    assert kept is not None and whole.trimmed is None
    assert kept.users[1] == whole.counts["marketplace.users"] and kept.users[0] < 0.6 * kept.users[1]
    assert kept.sessions[0] < 0.5 * kept.sessions[1] and kept.logins[0] < 0.5 * kept.logins[1]
    assert trimmed.counts["marketplace.users"] == kept.users[0]
    # And the purchases are the same ones, every scenario's
    assert trimmed.orders_by_scenario == whole.orders_by_scenario
    assert set(trimmed_rows) == set(whole_rows) and len(whole_rows) == whole.total_orders
    # And each has the same features, the account's age and its history's signals included
    differ = {
        txn: [
            (name, a, b)
            for name, a, b in zip(MODEL_FEATURES, row[2:-1], trimmed_rows[txn][2:-1], strict=True)
            if a != b
        ]
        for txn, row in whole_rows.items()
        if row != trimmed_rows[txn]
    }
    assert differ == {}
    # And the history is there to be read: honest buyers seen before from their IP, accounts years old
    index = {name: 2 + i for i, name in enumerate(MODEL_FEATURES)}
    values = list(whole_rows.values())
    assert sum(1 for row in values if row[index["new_ip"]] == 0.0) > 0.3 * len(values)
    assert sum(1 for row in values if (row[index["account_age_days"]] or 0) > 365) > 0.2 * len(values)

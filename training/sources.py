"""The default training source: a simulated marketplace, run through the real ETL and feature jobs,
then the point-in-time training-set builder (the path production data takes).

The simulation runs in a scratch database (created, migrated, dropped) on DATABASE_URL's server or
an embedded PostgreSQL, never in the database the application uses. It covers the training weeks
after a warm-up (WARM_UP) and before a label-settling period: fraud labels arrive up to 30 days after the purchase, so the training
window ends `LABEL_SETTLING` before the end of the simulation and every row's label is as final as the
simulator will make it (still noisy on purpose: some fraud never labelled or cleared by mistake).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg

from shared.db import apply_migrations
from shared.db.connection import with_database
from shared.features.training import LABEL_SETTLING
from training.data import LabelledTable, table_from_training_set

logger = logging.getLogger(__name__)

# The simulated world starts at steady state for accounts (registration dates, 90 days of sessions:
# tooling.simulator.history) but its chain and purchases start with the window: holding times,
# attendance and centrality grow for weeks. The training window starts after one week, so that the model
# learns from a young marketplace (a new deployment, the 7-day demo) as well as from a settled one, and
# does not read "no history yet" as fraud (issue 23; it was 28 days, and the model met only settled ones).
WARM_UP = timedelta(days=7)
BASE_ORDERS_PER_DAY = 600
# A fixed end keeps the default model reproducible (same seed -> same data -> same model).
DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)


def simulated_training_table(
    *, weeks: int = 6, scale: float = 1.0, seed: int = 0, end: datetime = DEFAULT_END
) -> tuple[LabelledTable, dict[str, Any]]:
    from tooling.local.services import LocalServices

    with LocalServices(database_url=os.environ.get("DATABASE_URL")) as services:
        assert services.database_url
        return _in_scratch_database(services.database_url, weeks=weeks, scale=scale, seed=seed, end=end)


def _in_scratch_database(
    server_url: str, *, weeks: int, scale: float, seed: int, end: datetime
) -> tuple[LabelledTable, dict[str, Any]]:
    with scratch_database(server_url) as conn:
        return build_from_simulation(conn, weeks=weeks, scale=scale, seed=seed, end=end)


@contextmanager
def scratch_database(server_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to a database of its own on `server_url`'s server, dropped afterwards whatever happens."""
    name = f"tg_ml_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        with psycopg.connect(with_database(server_url, name), autocommit=True) as conn:
            yield conn
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def build_from_simulation(
    conn: psycopg.Connection, *, weeks: int, scale: float, seed: int, end: datetime
) -> tuple[LabelledTable, dict[str, Any]]:
    """simulate -> ETL + daily features -> build_training_set on [start + WARM_UP, end - LABEL_SETTLING)."""
    from tooling.simulator.config import SimulationConfig

    days = WARM_UP.days + weeks * 7 + LABEL_SETTLING.days
    config = SimulationConfig(
        seed=seed, days=days, end=end, transactions_per_day=max(1, round(BASE_ORDERS_PER_DAY * scale))
    )
    built = simulated_rows(conn, config, lambda start, stop: (start + WARM_UP, stop - LABEL_SETTLING))
    frame, result, timings = built.frame, built.result, built.timings
    window_start, window_end = built.window
    details = {
        "summary": (
            f"{weeks} weeks of {config.orders_per_day} orders/day, seed {seed}, window "
            f"{window_start:%Y-%m-%d}..{window_end:%Y-%m-%d} after a {WARM_UP.days}-day warm-up, "
            f"labels settled {LABEL_SETTLING.days} days"
        ),
        "seed": seed,
        "simulated_days": days,
        "orders_per_day": config.orders_per_day,
        "window": {"start": window_start.isoformat(), "end": window_end.isoformat()},
        "warm_up_days": WARM_UP.days,
        "orders_by_scenario": result.orders_by_scenario,
        "labels": result.labels,
        "rows": len(frame),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    logger.info("training set: %s rows (%s)", len(frame), details["timings_s"])
    return table_from_training_set(frame, source="simulator"), details


@dataclass
class SimulatedRows:
    """What `simulated_rows` built: the rows, the simulation's result, the rows' window and each step's seconds."""

    frame: pd.DataFrame
    result: Any  # tooling.simulator.config.SimulationResult
    window: tuple[datetime, datetime]
    timings: dict[str, float]


def simulated_rows(
    conn: psycopg.Connection,
    config: Any,
    window: Callable[[datetime, datetime], tuple[datetime, datetime]],
) -> SimulatedRows:
    """The path production data takes, on a simulated world: `config` (a SimulationConfig) simulated
    into `conn` (migrated here), the ETL and daily feature jobs run, and the point-in-time training-set
    builder on `window(world start, world end)`; each row with the scenario behind it (sim.truth: the
    report's per-scenario detection and the calibration worlds' honest purchases; never a feature)."""
    from shared.features.training import build_training_set
    from shared.jobs.scheduled import run_full
    from tooling.simulator.run import simulate

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    apply_migrations(conn)
    result = simulate(conn, config)
    timings["simulate"] = time.perf_counter() - clock
    clock = time.perf_counter()
    run_full(conn, result.log_source, result.contract_address, as_of=result.end, refresh=False)
    timings["etl_and_features"] = time.perf_counter() - clock
    clock = time.perf_counter()
    bounds = window(result.start, result.end)
    frame = build_training_set(conn, *bounds)
    truth: dict[str, str] = dict(conn.execute("SELECT transaction_id, scenario FROM sim.truth").fetchall())
    frame["scenario"] = frame["transaction_id"].map(truth)
    timings["training_set"] = time.perf_counter() - clock
    return SimulatedRows(frame, result, bounds, timings)

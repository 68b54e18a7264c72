"""ETL throughput on one simulated day of 200,000 marketplace events (orders, sessions, login
attempts, listings; synthetic-chain mode), end to end: extract, transform, load, features, views,
each timed on its own; and the load step against a row-by-row INSERT baseline on the same rows,
in the same run.

Usage: python benchmarks/bench_etl.py [--events-per-day N] [--baseline-rows N]
Uses DATABASE_URL when set (scratch databases are created on that server), else an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from shared.db import apply_migrations
from shared.db.connection import with_database
from shared.etl.backend import TABLES, BackendStats, Row, _Transformer, extract, load_backend
from shared.etl.chain import CHAIN_COLUMNS, ChainStats, sync_chain, transform_logs
from shared.etl.load import insert_rows_one_by_one
from shared.features.batch import FeatureJobSummary, run_feature_job
from shared.features.cadence import DAILY
from shared.geo import Geolocator, default_geolocator
from shared.kpis.views import RefreshSummary, refresh_views
from tooling.local.services import LocalServices
from tooling.simulator.config import SimulationConfig
from tooling.simulator.run import SimulationResult, simulate

END = datetime(2026, 11, 20, tzinfo=UTC)


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = with_database(server_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        apply_migrations(conn)
    try:
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class CpuMeter:
    """CPU seconds of this process and of the PostgreSQL backend serving `conn` (from /proc): on a
    shared machine the wall clock measures the neighbours too, CPU time measures the work."""

    def __init__(self, conn: psycopg.Connection) -> None:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        self.pid = int(row[0]) if row else 0
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.phases: list[tuple[str, float, float, float]] = []

    def _backend(self) -> float:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")  # PostgreSQL on another machine
        return (int(fields[11]) + int(fields[12])) / self.ticks

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        wall, python, backend = time.perf_counter(), time.process_time(), self._backend()
        yield
        self.phases.append(
            (name, time.perf_counter() - wall, time.process_time() - python, self._backend() - backend)
        )


def rate(n: float, seconds: float) -> str:
    return f"{n / seconds:>12,.0f}/s" if seconds > 0 else "           -"


Prepared = list[tuple[str, tuple[str, ...], tuple[str, ...], list[tuple[object, ...]]]]


@dataclass
class Stages:
    """The pipeline's stages over the simulated day: what each did and how long it took."""

    extracted: dict[str, list[Row]]
    backend_extract_s: float
    stats: BackendStats
    chain: ChainStats
    features: FeatureJobSummary
    features_s: float
    views: RefreshSummary
    views_s: float
    cpu: CpuMeter

    @property
    def backend_rows(self) -> int:
        return sum(len(rows) for rows in self.extracted.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events-per-day", type=int, default=200_000)
    parser.add_argument(
        "--baseline-rows", type=int, default=60_000, help="rows the row-by-row baseline inserts (it is slow)"
    )
    args = parser.parse_args()

    with (
        LocalServices.from_env() as services,
        scratch_database(services.database_url or "", "tg_bench_etl") as url,
    ):
        assert services.database_url
        with psycopg.connect(url, autocommit=True) as conn:
            sim = simulate_day(conn, args.events_per_day)
            geolocator = default_geolocator()
            stages = run_stages(conn, sim, geolocator)
            rows = print_stages(stages, sim.marketplace_events)
            print_cpu(stages.cpu)
            sample = baseline_sample(conn, sim, stages.extracted, geolocator, args.baseline_rows)
        naive_s, copy_s = time_loads(services.database_url, sample)
        print_load_comparison(sum(len(r) for *_, r in sample), naive_s, copy_s, rows)
    return 0


def simulate_day(conn: psycopg.Connection, events_per_day: int) -> SimulationResult:
    """One simulated day of marketplace events in the backend tables (not timed)."""
    began = time.perf_counter()
    config = SimulationConfig(seed=1, days=1, events_per_day=events_per_day, chain="synthetic", end=END)
    sim = simulate(conn, config)
    sim_s = time.perf_counter() - began
    print(
        f"== input: one simulated day, {sim.marketplace_events:,} marketplace events (simulated in {sim_s:.1f} s, not timed below)"
    )
    for table, n in sim.counts.items():
        print(f"  {table:<30} {n:>10,}")
    return sim


def run_stages(conn: psycopg.Connection, sim: SimulationResult, geolocator: Geolocator) -> Stages:
    """The pipeline, stage by stage, each timed (wall and CPU)."""
    cpu = CpuMeter(conn)
    began = time.perf_counter()
    with cpu.phase("backend extract"):
        extracted = extract(conn)
    backend_extract_s = time.perf_counter() - began
    with cpu.phase("backend transform + load"):
        stats = load_backend(conn, extracted, geolocator=geolocator)
    with cpu.phase("chain extract + transform + load"):
        chain = sync_chain(conn, sim.log_source, sim.contract_address, confirmations=0)
    began = time.perf_counter()
    with cpu.phase("features (daily job)"):
        # the scheduled daily run after the day: its snapshots cover the whole simulated day
        features = run_feature_job(conn, "daily", as_of=sim.end + DAILY.publish_delay)
    features_s = time.perf_counter() - began
    began = time.perf_counter()
    with cpu.phase("views"):
        views = refresh_views(conn)
    views_s = time.perf_counter() - began
    return Stages(extracted, backend_extract_s, stats, chain, features, features_s, views, views_s, cpu)


def print_stages(stages: Stages, events: int) -> int:
    """The stages' seconds and rates; returns the records the day held (backend rows + contract logs)."""
    stats, chain, backend_rows = stages.stats, stages.chain, stages.backend_rows
    extract_s = stages.backend_extract_s + chain.seconds["extract"]
    transform_s = stats.seconds["transform"] + chain.seconds["transform"]
    load_s = stats.seconds["load"] + chain.seconds["load"]
    total_s = extract_s + transform_s + load_s + stages.features_s + stages.views_s
    rows = backend_rows + chain.logs_read
    print(
        f"\n== stages ({backend_rows:,} backend rows + {chain.logs_read:,} contract logs = {rows:,} records)"
    )
    print(f"  {'stage':<11} {'seconds':>8} {'marketplace events/s':>22} {'records/s':>14}")
    for name, seconds in [
        ("extract", extract_s),
        ("transform", transform_s),
        ("load", load_s),
        ("features", stages.features_s),
        ("views", stages.views_s),
    ]:
        print(f"  {name:<11} {seconds:>8.2f} {rate(events, seconds):>22} {rate(rows, seconds):>14}")
    print(f"  {'total':<11} {total_s:>8.2f} {rate(events, total_s):>22} {rate(rows, total_s):>14}")
    print(
        f"  backend: extract {stages.backend_extract_s:.2f} s, transform {stats.seconds['transform']:.2f} s, "
        f"load {stats.seconds['load']:.2f} s; chain: get_logs {chain.seconds['extract']:.2f} s, "
        f"decode {chain.seconds['transform']:.2f} s, load {chain.seconds['load']:.2f} s "
        f"({chain.batches} block ranges)"
    )
    print(
        f"  written: {stats.written:,} backend rows, {chain.rows_loaded:,} chain rows, "
        f"{stats.rejected + chain.rejected:,} rejected; features {stages.features.rows_written}; "
        f"views {stages.views.rows}"
    )
    print(f"  target: the day in < 60 s -> {'met' if total_s < 60 else 'NOT met'} ({total_s:.1f} s wall)")
    return rows


def print_cpu(cpu: CpuMeter) -> None:
    load1, _, _ = os.getloadavg()
    print(f"\n== CPU seconds per phase (machine load average now {load1:.1f} on {os.cpu_count()} cores)")
    print(f"  {'phase':<34} {'wall':>7} {'python':>7} {'postgres':>9} {'cpu sum':>8}")
    for name, wall, python, backend in cpu.phases:
        print(f"  {name:<34} {wall:>7.2f} {python:>7.2f} {backend:>9.2f} {python + backend:>8.2f}")
    cpu_total = sum(p + b for _, _, p, b in cpu.phases)
    print(
        f"  {'total':<34} {sum(w for _, w, _, _ in cpu.phases):>7.2f} "
        f"{sum(p for _, _, p, _ in cpu.phases):>7.2f} {sum(b for _, _, _, b in cpu.phases):>9.2f} "
        f"{cpu_total:>8.2f}"
    )
    print(
        f"  (python and postgres mostly take turns, so on an idle machine the day costs about "
        f"{cpu_total:.0f} s: {'within' if cpu_total < 60 else 'over'} the 60 s target)"
    )


def baseline_sample(
    conn: psycopg.Connection,
    sim: SimulationResult,
    extracted: dict[str, list[Row]],
    geolocator: Geolocator,
    budget: int,
) -> Prepared:
    """The day's rows transformed again, cut to `budget` rows, parents first (so foreign keys hold)."""
    transformer = _Transformer(conn, geolocator)
    transformer.remember_tickets(extracted["tickets"])
    prepared: Prepared = []
    for spec in TABLES:
        out, _ = transformer.transform(spec.name, extracted[spec.name])
        prepared.append((spec.target, spec.columns, spec.target_key, out))
    logs = sim.log_source.get_logs(0, sim.log_source.latest_block(), sim.contract_address)
    chain_rows, _, _ = transform_logs(logs, sim.contract_address, sim.log_source.block)
    prepared.append(
        ("intel.chain_events", CHAIN_COLUMNS, ("block_number", "tx_hash", "log_index"), chain_rows)
    )
    sample: Prepared = []
    for target, columns, key, table_rows in prepared:  # parents first, so foreign keys hold
        take = table_rows[: max(0, budget)]
        budget -= len(take)
        sample.append((target, columns, key, take))
    return sample


def time_loads(server_url: str, sample: Prepared) -> tuple[float, float]:
    """Seconds to load `sample` into empty tables row by row, then by COPY + one upsert per table."""
    from shared.etl.load import copy_upsert

    with scratch_database(server_url, "tg_bench_base") as base_url:
        with psycopg.connect(base_url) as base:
            began = time.perf_counter()
            for target, columns, key, table_rows in sample:
                insert_rows_one_by_one(base, target, columns, table_rows, key=key)
            base.commit()
            naive_s = time.perf_counter() - began
        with psycopg.connect(base_url, autocommit=True) as fresh:
            fresh.execute(
                "TRUNCATE intel.users, intel.wallets, intel.events, intel.tickets, intel.transactions, "
                "intel.sessions, intel.login_attempts, intel.chain_events CASCADE"
            )
            began = time.perf_counter()
            with fresh.transaction():
                for target, columns, key, table_rows in sample:
                    copy_upsert(fresh, target, columns, table_rows, key=key)
            copy_s = time.perf_counter() - began
    return naive_s, copy_s


def print_load_comparison(sample_rows: int, naive_s: float, copy_s: float, rows: int) -> None:
    print(f"\n== load step vs baseline, the same {sample_rows:,} transformed rows into empty tables")
    print(
        f"  row-by-row INSERT ... ON CONFLICT, one transaction: {naive_s:8.2f} s {rate(sample_rows, naive_s)}"
    )
    print(f"  COPY into staging + one upsert per table:          {copy_s:8.2f} s {rate(sample_rows, copy_s)}")
    print(f"  speed-up: {naive_s / copy_s:.1f}x")
    full_naive = naive_s * rows / max(1, sample_rows)
    print(f"  (row-by-row for all {rows:,} records would take about {full_naive:.0f} s at that rate)")


if __name__ == "__main__":
    raise SystemExit(main())

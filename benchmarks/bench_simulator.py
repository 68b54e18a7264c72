"""Simulator throughput: one simulated day at 200,000 marketplace events (orders + sessions + login
attempts + listings) in synthetic-chain mode into PostgreSQL, against the EVM mode's events/s on a
small day: the comparison that says why synthetic mode exists.

Usage: python benchmarks/bench_simulator.py [--events-per-day N] [--evm-transactions-per-day N]
Uses DATABASE_URL when set (a scratch database is created on that server), else an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import UTC, datetime

import psycopg

from shared.db import apply_migrations
from shared.db.connection import with_database
from tooling.local.services import LocalServices
from tooling.simulator.config import SimulationConfig, SimulationResult
from tooling.simulator.run import simulate

END = datetime(2026, 11, 20, tzinfo=UTC)


def _run(server_url: str, config: SimulationConfig) -> tuple[SimulationResult, float, float]:
    name = f"tg_bench_sim_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        with psycopg.connect(with_database(server_url, name), autocommit=True) as conn:
            apply_migrations(conn)
            started, cpu = time.perf_counter(), time.process_time()
            result = simulate(conn, config)
            return result, time.perf_counter() - started, time.process_time() - cpu
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _print(title: str, result: SimulationResult, seconds: float, cpu: float) -> None:
    print(f"\n== {title}")
    print(f"  (1-min load average after the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for table, n in result.counts.items():
        print(f"  {table:<30} {n:>10,}")
    print(f"  {'marketplace events':<30} {result.marketplace_events:>10,}")
    print(f"  {'chain transactions':<30} {result.chain_transactions:>10,}")
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings_s.items())
    print(f"  total {seconds:.1f} s ({phases}); {result.marketplace_events / seconds:,.0f} events/s")
    # Wall time depends on what else the machine runs; the simulator's own CPU time less so.
    print(f"  simulator process CPU {cpu:.1f} s (PostgreSQL's work on the COPY is not in it)")
    fraud = {s: f"{v:.3%}" for s, v in result.fraud_share.items() if s != "legit"}
    print(f"  fraud {result.fraud_orders / max(1, result.total_orders):.3%} overall: {fraud}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events-per-day", type=int, default=200_000)
    parser.add_argument("--evm-transactions-per-day", type=int, default=150)
    args = parser.parse_args()

    with LocalServices.from_env() as services:
        assert services.database_url
        synthetic, synthetic_s, synthetic_cpu = _run(
            services.database_url,
            SimulationConfig(seed=1, days=1, events_per_day=args.events_per_day, chain="synthetic", end=END),
        )
        _print(
            f"synthetic chain, one day at {args.events_per_day:,} events",
            synthetic,
            synthetic_s,
            synthetic_cpu,
        )

        evm, evm_s, evm_cpu = _run(
            services.database_url,
            SimulationConfig(
                seed=1, days=1, transactions_per_day=args.evm_transactions_per_day, chain="evm", end=END
            ),
        )
        _print(f"EVM (py-evm), one small day at {args.evm_transactions_per_day} orders", evm, evm_s, evm_cpu)
        chain_s = evm.timings_s["chain"]
        evm_rate = evm.marketplace_events / evm_s
        tx_rate = evm.chain_transactions / chain_s
        print("\n== comparison")
        print(f"  EVM: {tx_rate:,.0f} chain tx/s, {evm_rate:,.0f} marketplace events/s end to end")
        print(
            f"  synthetic: {synthetic.chain_transactions / synthetic.timings_s['chain']:,.0f} chain tx/s, "
            f"{synthetic.marketplace_events / synthetic_s:,.0f} marketplace events/s end to end"
        )
        projected = synthetic.chain_transactions / tx_rate
        print(
            f"  the {synthetic.marketplace_events:,}-event day needs {synthetic.chain_transactions:,} chain "
            f"transactions: ~{projected / 60:,.0f} min through the EVM vs {synthetic_s:.0f} s in synthetic mode "
            f"({projected / synthetic_s:,.0f}x)"
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TG_ENVIRONMENT", "local")
    sys.exit(main())

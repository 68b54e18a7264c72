"""Ingest throughput: one simulated day of a 200,000-events/day marketplace, told as the facts its
backend sends (tooling.simulator.facts), through the deployed path: batches of 500 on the queue (the
local durable queue, as the gateway puts them there), drained by the ingest Lambda handler (SQS
events of 10 messages, partial-batch reporting) into PostgreSQL through the pooler (PgBouncer in
transaction mode, RDS Proxy's stand-in). Against the row-by-row baseline in the same run: the same
facts, each validated and stored in a transaction of its own.

Usage: python benchmarks/bench_ingest.py [--events-per-day N] [--baseline-events N]
Uses DATABASE_URL when set (scratch databases are created on that server), else an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# `benchmarks.bench_etl` from `python benchmarks/bench_ingest.py`, which puts benchmarks/ first on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# EMF and traces are for CloudWatch: off before the handler's modules read them.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import psycopg

from benchmarks.bench_etl import CpuMeter, rate, scratch_database
from shared.config import get_settings
from shared.db.connection import get_pool, reset_pool
from shared.ingest.consumer import message_attributes, queued_batch
from shared.ingest.store import store_events
from shared.ingest.validation import validate_events
from tooling.local.gateway import LocalLambdaContext
from tooling.local.queue import DirectoryQueue, drain_once
from tooling.local.services import LocalServices
from tooling.simulator.config import SimulationConfig
from tooling.simulator.facts import marketplace_facts
from tooling.simulator.generate import generate
from tooling.simulator.labels import finalize

END = datetime(2026, 11, 20, tzinfo=UTC)
ORGANIZER = "0x" + "0a" * 20
BATCH_EVENTS = 500
TARGET_PER_S = 5_000


def day_of_facts(events_per_day: int) -> list[dict[str, Any]]:
    config = SimulationConfig(seed=1, days=1, events_per_day=events_per_day, chain="synthetic", end=END)
    world = generate(config, organizer=ORGANIZER)
    labels = finalize(world)
    return marketplace_facts(world, labels.rows, ORGANIZER, {})


def _use(url: str, pooled: str | None) -> None:
    """The ingest code reaches the database as deployed: through the pooler."""
    os.environ["DATABASE_URL"] = pooled or url
    get_settings.cache_clear()
    reset_pool()


def through_the_queue(facts: list[dict[str, Any]], queue_dir: Path) -> tuple[float, dict[str, int]]:
    import functions.ingest.handler as consumer

    queue = DirectoryQueue(queue_dir)
    context = LocalLambdaContext("ingest", "bench", timeout_s=900)
    began = time.perf_counter()
    for number, start in enumerate(range(0, len(facts), BATCH_EVENTS)):
        batch = queued_batch(
            json.dumps({"events": facts[start : start + BATCH_EVENTS]}), batch_id=f"bench-{number}"
        )
        queue.send(batch.body, message_attributes(batch))
    while drain_once(queue, consumer.handler, context, batch_size=10):
        pass
    seconds = time.perf_counter() - began
    with get_pool().connection() as conn:
        row = conn.execute(
            "SELECT sum(accepted), sum(duplicates), sum(rejected) FROM ingest.batches"
        ).fetchone()
    assert row is not None
    return seconds, {
        "accepted": int(row[0] or 0),
        "duplicates": int(row[1] or 0),
        "rejected": int(row[2] or 0),
    }


def row_by_row(facts: list[dict[str, Any]]) -> tuple[float, int]:
    """Each fact validated and stored in its own transaction (the same SQL, one statement at a time)."""
    stored = 0
    began = time.perf_counter()
    with get_pool().connection() as conn:
        conn.autocommit = True
        for fact in facts:
            valid, _ = validate_events([fact], now=datetime.now(UTC))
            stored += sum(r.status == "accepted" for r in store_events(conn, valid))
    return time.perf_counter() - began, stored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events-per-day", type=int, default=200_000)
    parser.add_argument(
        "--baseline-events",
        type=int,
        default=20_000,
        help="facts the row-by-row baseline stores (it is slow)",
    )
    args = parser.parse_args()

    facts = _facts_of_the_day(args.events_per_day)
    sample = facts[: args.baseline_events]
    with LocalServices.from_env() as services:
        assert services.database_url
        pooler = "PgBouncer (transaction mode)" if services.pooled_url() else "no pooler (direct)"
        queued_s, outcome, cpu = _queued(services, facts)
        with scratch_database(services.database_url, "tg_bench_ingest_rows") as url:
            _use(url, services.pooled_url(url))
            baseline_s, baseline_stored = row_by_row(sample)
            reset_pool()
    _print_comparison(
        pooler, (len(facts), queued_s, outcome), (len(sample), baseline_s, baseline_stored), cpu
    )
    return 0 if outcome["rejected"] == 0 and outcome["accepted"] == len(facts) else 1


def _facts_of_the_day(events_per_day: int) -> list[dict[str, Any]]:
    began = time.perf_counter()
    facts = day_of_facts(events_per_day)
    print(
        f"== input: one simulated day of a {events_per_day:,}-events/day marketplace: {len(facts):,} facts "
        f"(built in {time.perf_counter() - began:.1f} s, not timed below)"
    )
    for kind, n in sorted(Counter(f["type"] for f in facts).items(), key=lambda item: -item[1]):
        print(f"  {kind:<22} {n:>9,}")
    return facts


def _queued(services: LocalServices, facts: list[dict[str, Any]]) -> tuple[float, dict[str, int], CpuMeter]:
    """The facts through the queue and the ingest handler into a scratch database: seconds, outcome, CPU."""
    assert services.database_url
    with (
        scratch_database(services.database_url, "tg_bench_ingest") as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        _use(url, services.pooled_url(url))
        with psycopg.connect(url, autocommit=True) as meter_conn:
            cpu = CpuMeter(meter_conn)
            with cpu.phase("queue + handler"):
                queued_s, outcome = through_the_queue(facts, Path(tmp))
        reset_pool()
    return queued_s, outcome, cpu


def _print_comparison(
    pooler: str,
    queued: tuple[int, float, dict[str, int]],
    baseline: tuple[int, float, int],
    cpu: CpuMeter,
) -> None:
    (facts, queued_s, outcome), (sample, baseline_s, baseline_stored) = queued, baseline
    queued_rate = facts / queued_s
    baseline_rate = sample / baseline_s
    print(f"\n== through {pooler}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"  {'path':<48} {'facts':>9} {'seconds':>8} {'facts/s':>14}")
    print(
        f"  {'queue -> ingest handler (batches of 500, 10/invoke)':<48} {facts:>9,} {queued_s:>8.2f} "
        f"{rate(facts, queued_s):>14}"
    )
    print(
        f"  {'row by row (a transaction per fact)':<48} {sample:>9,} {baseline_s:>8.2f} "
        f"{rate(sample, baseline_s):>14}"
    )
    print(
        f"  stored: {outcome['accepted']:,} accepted, {outcome['duplicates']:,} duplicates, "
        f"{outcome['rejected']:,} rejected (queue); {baseline_stored:,} (row by row)"
    )
    print(f"  speed-up over row by row: {queued_rate / baseline_rate:.1f}x")
    print(
        f"  target: >= {TARGET_PER_S:,} events/s end to end -> "
        f"{'met' if queued_rate >= TARGET_PER_S else 'NOT met'} ({queued_rate:,.0f}/s)"
    )
    for name, wall, python, backend in cpu.phases:
        print(
            f"  cpu: {name}: wall {wall:.2f} s, python {python:.2f} s, postgres backend (meter only) {backend:.2f} s"
        )


if __name__ == "__main__":
    raise SystemExit(main())

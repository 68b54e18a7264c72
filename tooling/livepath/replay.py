"""One cell of the live-path evaluation: a simulated marketplace (seed, days, purchases a day) replayed
through the deployed code paths in simulated time (tooling.livepath.path), into a fresh database.

1. The world is generated and its sales put on a synthetic chain (tooling.simulator.run.build_world).
2. Its facts reach ingest as the backend would send them (the history before the measured days
   summarised, tooling.simulator.trim: what no measured purchase reads is left out): in time order, posted at the latest
   `post_every` after they happen (batched: a post costs a queue message and a transaction), and an
   account, wallet, event or ticket before any purchase that refers to it is scored.
3. The ETL and feature jobs run at the schedules table's firing times in the measured window and
   from the daily run before it; earlier (the warm-up of a long world) only the ETL runs, weekly. The
   daily ETL's repair re-reads the rows of the last 26 simulated hours (tooling.livepath.path.etl_clock).
4. Every purchase of the measured window (the last `score_days`, at most the whole world) is scored
   by the scoring handler at its own time; the decisions are compared with the simulator's truth.
5. The training/serving parity: the features the handler served (intel.fraud_predictions.features)
   beside the training-set builder's point-in-time rows for the same purchases (what the model was
   trained on), per feature; a feature that disagrees is a skew to find.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from shared.jobs.schedules import SCHEDULES, fire_times
from shared.kpis.rates import summarize
from tooling.livepath import parity
from tooling.livepath.path import CappedChain, LivePath, SimulatedClock, etl_clock
from tooling.livepath.timeline import FACT, JOB, fact_refs, firings, timeline, warm_up_firings

# A fixed end: the same cell gives the same world on any day (the chain's and the jobs' clocks are the
# simulated one; only the wall clock of the budgets and the rows' updated_at move).
DEFAULT_END = datetime(2026, 6, 1, tzinfo=UTC)
SCORE_DAYS = 7.0
POST_EVERY_S = 300.0
# Before the schedules start (the warm-up of a long world) nothing is scored: the facts wait for the next
# ETL run, posted in full batches.
WARM_UP_BUFFER = 5_000
# The facts without which a purchase's rows are unknown to ingest and scoring: posted before the
# purchase whatever the cadence. Sessions and logins wait for the next post (at most POST_EVERY_S).
NOUNS = frozenset({"user.created", "wallet.linked", "event.listed", "ticket.minted", "ticket.transferred"})
WARM_UP_ETL_EVERY = timedelta(days=7)


@dataclass(frozen=True)
class Cell:
    seed: int
    days: float
    per_day: int
    score_days: float = SCORE_DAYS
    post_every_s: float = POST_EVERY_S
    end: datetime = DEFAULT_END
    # Post the history before the measured days summarised (tooling.simulator.trim): the same features
    # for every scored purchase, a fraction of the facts. False: the whole world, fact by fact.
    trim_history: bool = True
    # Days the simulated world goes on after `end`, never replayed: the world is generated to
    # end + followed_by_days, so the measured week is a week in the middle of a longer world, as a
    # training set's test week is (30 days of label settling after it). 0: the world ends at `end`.
    followed_by_days: float = 0.0

    @property
    def name(self) -> str:
        followed = f", {self.followed_by_days:g} more days simulated" if self.followed_by_days else ""
        return f"{self.days:g}d x {self.per_day}/day, seed {self.seed}{followed}"


@dataclass
class CellResult:
    cell: Cell
    model_version: str | None
    window: dict[str, str]
    outcome: dict[str, Any]
    parity: dict[str, Any]
    counts: dict[str, int]
    seconds: dict[str, float]
    decisions: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cell": {
                "seed": self.cell.seed,
                "days": self.cell.days,
                "per_day": self.cell.per_day,
                "score_days": self.cell.score_days,
                "post_every_s": self.cell.post_every_s,
                "end": self.cell.end.isoformat(),
                "trim_history": self.cell.trim_history,
                "followed_by_days": self.cell.followed_by_days,
            },
            "model_version": self.model_version,
            "window": self.window,
            "outcome": self.outcome,
            "parity": self.parity,
            "counts": self.counts,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def purchase_request(order: Any) -> dict[str, Any]:
    """The body the marketplace backend sends for a simulated order (POST /api/v1/ml/predict/fraud)."""
    return {
        "transaction_id": order.transaction_id,
        "wallet_address": order.wallet,
        "ticket_id": order.ticket_id,
        "price_paid": float(order.price),
        "buyer_ip": order.ip,
        "user_id": str(order.user.user_id),
        # the instrument's token, as the order events carry it (payment_instrument): the payment signals
        "payment_fingerprint": order.instrument,
    }


@contextmanager
def _chain_for_the_etl(source: CappedChain) -> Iterator[None]:
    """The ETL job's chain: the deployment's node (CHAIN_RPC_URL) stands for the simulated chain as
    of the simulated now."""
    import shared.etl.pipeline as pipeline

    real = pipeline.default_log_source
    pipeline.default_log_source = lambda: source
    try:
        yield
    finally:
        pipeline.default_log_source = real


def _write_truth(conn: psycopg.Connection[Any], orders: list[Any]) -> None:
    from tooling.simulator.run import SIM_SCHEMA

    conn.execute(SIM_SCHEMA)
    with conn.cursor() as cur, cur.copy("COPY sim.truth (transaction_id, scenario) FROM STDIN") as copy:
        for order in orders:
            copy.write_row((order.transaction_id, order.scenario))


@dataclass
class _Plan:
    config: Any
    built: Any
    steps: list[tuple[float, float, int, str, Any]]
    score_from: datetime
    purchases: int
    scheduled_from: float  # epoch seconds: the schedules (and the posting cadence) start here


def _schedule_from(start: datetime, score_from: datetime) -> datetime:
    """Where the schedules start: at the last daily ETL before the first scored purchase (its daily
    feature snapshot and the hourly ones after it are what that purchase is served), else at `start`."""
    daily = next(s for s in SCHEDULES if s.function == "etl" and (s.payload or {}).get("mode") == "daily")
    before = fire_times(daily, start, score_from + timedelta(microseconds=1))
    return before[-1] if before else start


def world_config(cell: Cell) -> Any:
    """The simulator's configuration of `cell`'s world: `days` to `end`, then `followed_by_days` more;
    the history before the measured days trimmed when the cell says so."""
    from tooling.simulator.config import SimulationConfig

    return SimulationConfig(
        seed=cell.seed,
        days=cell.days + cell.followed_by_days,
        transactions_per_day=cell.per_day,
        end=cell.end + timedelta(days=cell.followed_by_days),
        trim_to_window=cell.trim_history,
        trim_from=cell.end - timedelta(days=cell.score_days),
    )


def _plan(cell: Cell) -> _Plan:
    from tooling.simulator.run import build_world

    config = world_config(cell)
    built = build_world(config)
    score_from = max(config.start, cell.end - timedelta(days=cell.score_days))
    jobs_from = _schedule_from(config.start, score_from)
    stop = cell.end.timestamp()
    purchases = [o for o in built.world.orders if score_from.timestamp() <= o.created_at < stop]
    etl = next(s for s in SCHEDULES if s.function == "etl" and (s.payload or {}).get("mode") == "hourly")
    jobs = warm_up_firings(config.start, jobs_from, WARM_UP_ETL_EVERY, etl) + firings(jobs_from, cell.end)
    steps = [step for step in timeline(built.facts(), purchases, jobs) if step[0] < stop]
    return _Plan(config, built, steps, score_from, len(purchases), jobs_from.timestamp())


def _run(
    cell: Cell, plan: _Plan, path: LivePath, progress: Callable[[str], None] | None
) -> list[dict[str, Any]]:
    """The timeline, step by step: facts buffered and posted, jobs run, purchases scored."""
    decisions: list[dict[str, Any]] = []
    buffer: list[dict[str, Any]] = []
    pending: set[tuple[str, Any]] = set()
    post_by = math.inf

    def flush(at: float) -> None:
        nonlocal post_by
        path.post(buffer, at)
        buffer.clear()
        pending.clear()
        post_by = math.inf

    for at, _rank, _n, kind, payload in plan.steps:
        if buffer and at >= post_by and (at >= plan.scheduled_from or len(buffer) >= WARM_UP_BUFFER):
            flush(at)
        if kind == FACT:
            buffer.append(payload)
            if payload["type"] in NOUNS:
                pending.update(fact_refs(payload))
            post_by = min(post_by, at + cell.post_every_s)
        elif kind == JOB:
            flush(at)
            path.run_job(payload)
        else:
            if not pending.isdisjoint(
                {("u", payload.user.user_id), ("w", payload.wallet), ("t", payload.ticket_id)}
            ):
                flush(at)
            answer = path.score(purchase_request(payload), datetime.fromtimestamp(at, UTC))
            decisions.append(
                {
                    "transaction_id": payload.transaction_id,
                    "scenario": payload.scenario,
                    "status": answer["status"],
                    "decision": answer.get("decision"),
                    "fraud_score": answer.get("fraud_score"),
                    "model_version": answer.get("model_version"),
                    "degraded": answer.get("degraded"),
                }
            )
            if progress is not None and len(decisions) % 2000 == 0:
                progress(f"  {cell.name}: {len(decisions)}/{plan.purchases} purchases scored")
    flush(plan.steps[-1][0] if plan.steps else 0.0)
    return decisions


def _trim_counts(trimmed: Any) -> dict[str, int]:
    """What the trim kept of the world's accounts, sessions and logins, and what it had."""
    if trimmed is None:
        return {}
    return {
        f"{name}_{which}": pair[n]
        for name, pair in (
            ("users", trimmed.users),
            ("sessions", trimmed.sessions),
            ("logins", trimmed.logins),
        )
        for n, which in ((0, "posted"), (1, "generated"))
    }


def replay(cell: Cell, database_url: str, *, progress: Callable[[str], None] | None = None) -> CellResult:
    """Replays `cell` into the (migrated, empty) database at `database_url` with the environment's
    Redis; the handlers read DATABASE_URL / REDIS_URL (the caller points them here)."""
    from shared.scoring.service import reset_default_deps

    began = time.perf_counter()
    plan = _plan(cell)
    config, built = plan.config, plan.built
    seconds = {"plan": time.perf_counter() - began}
    with psycopg.connect(database_url, autocommit=True) as conn:
        _write_truth(conn, built.world.orders)

    reset_default_deps()
    clock = SimulatedClock()
    path = LivePath(database_url, clock)
    step = time.perf_counter()
    try:
        with (
            clock.installed(),
            _chain_for_the_etl(CappedChain(built.log_source, clock, built.contract_address)),
            etl_clock(path.ledger, clock),
        ):
            decisions = _run(cell, plan, path, progress)
    finally:
        path.close()
    seconds["replay"] = time.perf_counter() - step
    seconds |= {f"replay.{k}": v for k, v in path.seconds.items()}
    seconds |= {f"job.{k}": v for k, v in path.job_seconds.items()}

    step = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        served_parity = parity.compare(conn, plan.score_from, cell.end)
    seconds["parity"] = time.perf_counter() - step
    seconds["total"] = time.perf_counter() - began
    versions = {d["model_version"] for d in decisions if d["model_version"]}
    return CellResult(
        cell=cell,
        model_version=", ".join(sorted(versions)) or None,
        window={
            "start": config.start.isoformat(),
            "scored_from": plan.score_from.isoformat(),
            "end": cell.end.isoformat(),
            "simulated_to": config.end.isoformat(),
        },
        outcome=summarize(decisions),
        parity=served_parity,
        counts=dict(path.counts)
        | {"purchases": plan.purchases, "orders": len(built.world.orders)}
        | _trim_counts(built.trimmed),
        seconds=seconds,
        decisions=decisions,
    )

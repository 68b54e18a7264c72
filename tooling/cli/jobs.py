"""The scheduled jobs from the command line, once each: `ticketguard etl`, `ticketguard features`,
`ticketguard refresh-views`."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

from shared.db import connect
from shared.db.timeouts import STATEMENT_TIMEOUT_MS
from shared.errors import ValidationFailed
from shared.jobs.events import ScheduledJob
from shared.jobs.scheduled import feature_job, refresh_job
from shared.kpis.kpis import compute_kpis
from tooling.cli_args import aware_instant


def etl_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ticketguard etl",
        description="run the ETL once against DATABASE_URL (and CHAIN_RPC_URL when set)",
    )
    parser.add_argument("--mode", choices=["hourly", "daily"], default="hourly")
    parser.add_argument(
        "--since", type=aware_instant, help="re-read backend rows updated since (ISO time with zone)"
    )
    parser.add_argument("--confirmations", type=int, help="blocks on top before a log is loaded")
    args = parser.parse_args(argv)
    if args.confirmations is not None and args.confirmations < 0:
        raise ValidationFailed("--confirmations must be >= 0")

    from shared.etl.pipeline import default_log_source, run_etl_incremental  # web3: only here

    with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS["etl"]) as conn:
        summary = run_etl_incremental(
            conn,
            mode=args.mode,
            log_source=default_log_source(),
            since=args.since,
            confirmations=args.confirmations,
        )
    print(json.dumps(summary.as_dict(), default=str, indent=2))
    return 0


def features_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ticketguard features", description="run the hourly or daily feature job once"
    )
    parser.add_argument("--mode", choices=["hourly", "daily"], default="daily")
    parser.add_argument(
        "--as-of",
        type=aware_instant,
        help=(
            "bring the tables to what scoring reads at this time (default: now): the hourly "
            "snapshot in force then, and with --mode daily the daily one (shared/features/cadence.py)"
        ),
    )
    args = parser.parse_args(argv)
    print(json.dumps(feature_job(ScheduledJob(mode=args.mode, as_of=args.as_of)), indent=2))
    return 0


def refresh_views_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ticketguard refresh-views",
        description="refresh the dashboard views once; with --kpis, print the KPIs of a window too",
    )
    parser.add_argument("--kpis", action="store_true", help="also print the KPIs of [--start, --end)")
    parser.add_argument("--start", type=aware_instant, help="default: 24 hours before --end")
    parser.add_argument("--end", type=aware_instant, help="default: now")
    args = parser.parse_args(argv)
    print(json.dumps(refresh_job(), indent=2))
    if args.kpis:
        end = args.end or datetime.now(UTC)
        start = args.start or end - timedelta(hours=24)
        with connect() as conn:
            print(compute_kpis(conn, start, end).model_dump_json(indent=2))
    return 0

"""`ticketguard refresh-views`: refresh the dashboard views once; with --kpis, print the KPIs of
a window too."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

from shared.etl.cli import _aware
from shared.etl.jobs import refresh_job


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketguard refresh-views", description=__doc__)
    parser.add_argument("--kpis", action="store_true", help="also print the KPIs of [--start, --end)")
    parser.add_argument("--start", type=_aware, help="default: 24 hours before --end")
    parser.add_argument("--end", type=_aware, help="default: now")
    args = parser.parse_args(argv)
    print(json.dumps(refresh_job(), indent=2))
    if args.kpis:
        from shared.db import connect
        from shared.kpis.kpis import compute_kpis

        end = args.end or datetime.now(UTC)
        start = args.start or end - timedelta(hours=24)
        with connect() as conn:
            print(compute_kpis(conn, start, end).model_dump_json(indent=2))
    return 0

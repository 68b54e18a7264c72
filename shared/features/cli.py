"""`ticketguard features`: run the hourly or daily feature job once."""

from __future__ import annotations

import argparse
import json

from shared.etl.cli import _aware
from shared.etl.jobs import ScheduledJob, feature_job


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketguard features", description=__doc__)
    parser.add_argument("--mode", choices=["hourly", "daily"], default="daily")
    parser.add_argument(
        "--as-of",
        type=_aware,
        help=(
            "bring the tables to what scoring reads at this time (default: now): the hourly "
            "snapshot in force then, and with --mode daily the daily one (shared/features/cadence.py)"
        ),
    )
    args = parser.parse_args(argv)
    print(json.dumps(feature_job(ScheduledJob(mode=args.mode, as_of=args.as_of)), indent=2))
    return 0

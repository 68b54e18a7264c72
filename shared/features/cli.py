"""`ticketguard features`: run the hourly or daily feature job once."""

from __future__ import annotations

import argparse
import json

from shared.etl.cli import _aware
from shared.etl.jobs import ScheduledJob, feature_job


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketguard features", description=__doc__)
    parser.add_argument("--mode", choices=["hourly", "daily"], default="daily")
    parser.add_argument("--as-of", type=_aware, help="compute as of this time (default: now)")
    args = parser.parse_args(argv)
    print(json.dumps(feature_job(ScheduledJob(mode=args.mode, as_of=args.as_of)), indent=2))
    return 0

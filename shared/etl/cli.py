"""`ticketguard etl`: run the ETL once against DATABASE_URL (and CHAIN_RPC_URL when set)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from shared.errors import ValidationFailed


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a timezone, e.g. 2026-03-01T00:00:00+00:00")
    return value


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketguard etl", description=__doc__)
    parser.add_argument("--mode", choices=["hourly", "daily"], default="hourly")
    parser.add_argument(
        "--since", type=_aware, help="re-read backend rows updated since (ISO time with zone)"
    )
    parser.add_argument("--confirmations", type=int, help="blocks on top before a log is loaded")
    args = parser.parse_args(argv)
    if args.confirmations is not None and args.confirmations < 0:
        raise ValidationFailed("--confirmations must be >= 0")

    from shared.db import connect
    from shared.etl.pipeline import default_log_source, run_etl_incremental

    with connect(statement_timeout_ms=600_000) as conn:
        summary = run_etl_incremental(
            conn,
            mode=args.mode,
            log_source=default_log_source(),
            since=args.since,
            confirmations=args.confirmations,
        )
    print(json.dumps(summary.as_dict(), default=str, indent=2))
    return 0

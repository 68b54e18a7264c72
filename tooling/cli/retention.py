"""`ticketguard retention [--dry-run] [--as-of T]` and `ticketguard gdpr erase|export --user ID`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from shared.db.timeouts import STATEMENT_TIMEOUT_MS
from shared.errors import ConfigurationError
from tooling.cli_args import aware_instant


def retention_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ticketguard retention",
        description="archive rows past their hot age (spec 2.1) to the archive, then delete them",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would move, per table; change nothing"
    )
    parser.add_argument(
        "--as-of", type=aware_instant, help="the run's 'now' (ISO time with zone; default: now)"
    )
    args = parser.parse_args(argv)
    as_of = args.as_of or datetime.now(UTC)
    if not args.dry_run:
        from shared.retention.job import retention_job

        print(json.dumps(retention_job(as_of), indent=2))
        return 0
    from shared.db import connect
    from shared.retention.job import dry_run
    from shared.retention.store import stores_from_settings

    with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS["retention"]) as conn:
        moves = dry_run(conn, stores_from_settings(), as_of)
    print(f"retention dry run as of {as_of.isoformat()}: nothing is changed")
    for move in moves:
        head = (
            f"{move.table:<27} {move.data_type:<17} {move.action:<21} before {move.cutoff}: {move.rows} rows"
        )
        if move.rows:
            lo, hi = move.key_range or ("", "")
            head += f" over {move.days} day(s) {move.oldest} .. {move.newest}, keys {lo} .. {hi}"
        if move.destination and move.rows:
            head += f" -> {move.destination}"
        if move.pending_batches:
            head += f" ({move.pending_batches} pending batch resumed first)"
        if move.unreadable:
            head += f"; {move.unreadable} row(s) with a time out of range: quarantined, left in place"
        print(head)
    print(f"total: {sum(m.rows for m in moves)} rows")
    return 0


def gdpr_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ticketguard gdpr", description="GDPR requests for one user: erase (art. 17) or export (art. 15)"
    )
    sub = parser.add_subparsers(dest="request", required=True)
    erase_p = sub.add_parser(
        "erase", help="erase the user's personal data (PostgreSQL, Redis, archive); idempotent"
    )
    erase_p.add_argument("--user", type=int, required=True, help="the marketplace user id")
    erase_p.add_argument("--actor", default=None, help="who asked, for the audit log (default: the OS user)")
    export_p = sub.add_parser("export", help="print everything held on the user as JSON")
    export_p.add_argument("--user", type=int, required=True, help="the marketplace user id")
    export_p.add_argument("--output", help="write to this file instead of standard output")
    args = parser.parse_args(argv)

    from shared.db import connect
    from shared.retention import gdpr

    if args.request == "erase":
        from shared.cache.clients import job_redis

        redis = job_redis()
        if redis is None:
            raise ConfigurationError("REDIS_URL is not set: an erasure purges Redis too")
        with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS["gdpr"]) as conn:
            result = gdpr.erase(conn, redis, args.user, actor=f"cli:{args.actor or getpass.getuser()}")
        print(json.dumps(result, indent=2))
        return 0
    from shared.retention.store import stores_from_settings

    with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS["gdpr"]) as conn:
        data = gdpr.export(conn, stores_from_settings(), args.user)
    text = json.dumps(data, indent=2, default=str)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0

"""`ticketguard simulate`: generate a simulated marketplace into DATABASE_URL (migrations applied
first) and print the rows written per table and the fraud share per scenario."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from pydantic import ValidationError

from tooling.simulator.config import SimulationConfig, SimulationResult, default_end


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketguard simulate", description=__doc__)
    parser.add_argument("--seed", type=int, default=7, help="same seed (and --end) -> identical rows")
    parser.add_argument("--days", type=float, default=7.0, help="simulated days ending at --end")
    volume = parser.add_mutually_exclusive_group()
    volume.add_argument("--transactions-per-day", type=int, help="orders per simulated day (default 1000)")
    volume.add_argument(
        "--events-per-day", type=int, help="marketplace events per day (orders+sessions+logins+listings)"
    )
    parser.add_argument("--chain", choices=("evm", "synthetic"), default="synthetic")
    parser.add_argument("--end", help="ISO time the window ends (default: now, rounded down to the hour)")
    parser.add_argument("--fraud-rate", type=float, default=0.012)
    parser.add_argument("--database-url", help="default: DATABASE_URL")
    parser.add_argument("--replace", action="store_true", help="truncate a previous simulation's rows first")
    return parser


def report(result: SimulationResult) -> str:
    lines = [
        f"simulated {result.start:%Y-%m-%d %H:%M} .. {result.end:%Y-%m-%d %H:%M} UTC on the {result.chain} chain "
        f"(contract {result.contract_address}, blocks {result.first_block}..{result.last_block}, "
        f"{result.chain_transactions} transactions)",
        "",
        "rows written:",
        *(f"  {table:<30} {n:>10,}" for table, n in result.counts.items()),
        f"  {'marketplace events':<30} {result.marketplace_events:>10,}  (orders+sessions+logins+listings)",
        "",
        "orders by scenario:",
        *(
            f"  {scenario:<30} {result.orders_by_scenario[scenario]:>10,}  {share:7.3%}"
            for scenario, share in result.fraud_share.items()
        ),
        f"  {'fraud overall':<30} {result.fraud_orders:>10,}  {result.fraud_orders / max(1, result.total_orders):7.3%}",
        "",
        "labels: "
        + ", ".join(f"{k}={v}" for k, v in result.labels.items())
        + "   timings: "
        + ", ".join(f"{k} {v:.2f}s" for k, v in result.timings_s.items()),
    ]
    return "\n".join(lines)


def cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        config = SimulationConfig(
            seed=args.seed,
            days=args.days,
            transactions_per_day=args.transactions_per_day,
            events_per_day=args.events_per_day,
            chain=args.chain,
            end=datetime.fromisoformat(args.end) if args.end else default_end(),
            fraud_rate=args.fraud_rate,
            replace=args.replace,
        )
    except (ValidationError, ValueError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else [{"loc": ("end",), "msg": str(exc)}]
        for error in errors:
            print(
                f"ticketguard simulate: {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr
            )
        return 2

    from shared.db.connection import connect
    from shared.db.migrations import apply_migrations
    from tooling.simulator.run import simulate

    # No statement timeout: one COPY of a large day runs longer than a request would.
    with connect(args.database_url, autocommit=True, statement_timeout_ms=0) as conn:
        apply_migrations(conn)
        result = simulate(conn, config)
    print(report(result))
    return 0

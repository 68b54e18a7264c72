"""`ticketguard` command line. Each subcommand lives with its room and is imported only when used,
so that `ticketguard run` does not pay for the ML stack."""

from __future__ import annotations

import importlib
import sys

from shared.errors import TicketGuardError

# name -> ("module:function", one-line help). Each function takes argv (list[str]) and returns an exit code.
# A command is registered once its module exists (tests/unit/test_cli.py imports every one).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("tooling.local.runner:cli", "start the local stack and serve the API on 127.0.0.1:3000"),
    "migrate": ("tooling.cli.db:cli", "apply the SQL migrations to DATABASE_URL"),
    "simulate": ("tooling.simulator.cli:cli", "generate a simulated marketplace (chain + backend tables)"),
    "etl": ("tooling.cli.jobs:etl_cli", "run the ETL once (chain, backend, geolocation)"),
    "features": ("tooling.cli.jobs:features_cli", "run the hourly/daily feature jobs once"),
    "refresh-views": ("tooling.cli.jobs:refresh_views_cli", "refresh the materialized views once"),
    "smoke": ("tooling.smoke:cli", "check a deployed API: health, scoring, a bad request, metrics"),
    "train": ("training.cli:cli", "train, evaluate, compile and register a fraud model"),
    "evaluate": (
        "tooling.livepath.cli:cli",
        "the model on the live path: a simulated marketplace through the handlers",
    ),
    "model": ("tooling.cli.model:cli", "model rollout: status, shadow, canary, promote, rollback"),
    "retention": (
        "tooling.cli.retention:retention_cli",
        "archive rows past their hot age, then delete (--dry-run)",
    ),
    "gdpr": ("tooling.cli.retention:gdpr_cli", "GDPR erase/export of one user's personal data"),
    "admin": ("tooling.cli.admin:cli", "the local admin user pool: create-user (TOTP), sign-in, refresh"),
    "audit": ("tooling.cli.audit:cli", "verify the audit log's hash chain (a changed or removed row)"),
    "ingest": ("tooling.local.redrive:ingest_cli", "ingest queue operations: redrive its dead letters"),
    "siem": ("tooling.cli.siem:cli", "SIEM tools: replay a CloudWatch Logs subscription event (no action)"),
    "pricing": (
        "tooling.cli.pricing:cli",
        "pricing experiment: settle rewards, train arm D, kill switch, simulate policies",
    ),
}


def _usage() -> str:
    lines = ["usage: ticketguard COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"ticketguard: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, _, func_name = COMMANDS[name][0].partition(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except ModuleNotFoundError as exc:
        print(f"ticketguard {name}: not available in this installation ({exc.name})", file=sys.stderr)
        return 2
    try:
        return int(func(rest) or 0)
    except TicketGuardError as exc:
        # One line naming the problem, never a stack trace, for configuration and dependency errors.
        print(f"ticketguard {name}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

"""`ticketguard migrate`: apply the migrations to DATABASE_URL."""

from __future__ import annotations

import argparse

from shared.db.connection import connect
from shared.db.migrations import apply_migrations


def cli(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="ticketguard migrate", description=__doc__).parse_args(argv)
    with connect() as conn:
        applied = apply_migrations(conn)
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none (up to date)'}")
    return 0

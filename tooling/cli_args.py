"""Argument types the `ticketguard` subcommands share."""

from __future__ import annotations

import argparse
from datetime import datetime

from shared.instants import parse_instant


def aware_instant(text: str) -> datetime:
    """An instant as every other timestamp the service accepts (shared/instants.py): ISO 8601 with its
    zone (a naive time would be read in the machine's zone), 1970-01-01 to 9999-12-30, no epoch number."""
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} {exc}") from None

"""Argument types the `ticketguard` subcommands share."""

from __future__ import annotations

import argparse
from datetime import datetime


def aware_instant(text: str) -> datetime:
    """An ISO 8601 instant with its timezone (a naive time would be read in the machine's zone)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a timezone, e.g. 2026-03-01T00:00:00+00:00")
    return value

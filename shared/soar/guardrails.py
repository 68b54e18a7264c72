"""What stops an automatic action: a target on the never-block list (the marketplace backend's egress,
the admin VPN: Settings.soar_never_block), a pseudonymous target (a log line's `<ip:...>`: nothing to
act on), the cap on automatic blocks per hour (Settings.soar_max_blocks_per_hour), and dry-run
(Settings.soar_dry_run, per action: recorded as what would have been done)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from shared.config import SecuritySettings
from shared.soar.actions import Action, automatic_blocks_since

# An advisory lock (transaction-scoped) around counting and claiming blocking actions, so that two
# SOAR invocations cannot both pass the cap with its last slot.
CAP_LOCK = 0x50A4


def never_blocked(target: str, settings: SecuritySettings) -> str | None:
    """The never-block network that covers `target`, or None."""
    try:
        network = ipaddress.ip_network(target, strict=False)
    except ValueError:
        return None
    for entry in settings.never_block_networks():
        protected = ipaddress.ip_network(entry, strict=False)
        if network.version == protected.version and (
            network.subnet_of(protected) or protected.subnet_of(network)  # type: ignore[arg-type]
        ):
            return entry
    return None


def refusal(
    conn: psycopg.Connection[Any], action: Action, settings: SecuritySettings, *, blocking: bool
) -> tuple[str, str] | None:
    """(status, reason) when the action must not take effect, else None. Call inside the transaction
    that claimed the action, after `lock_cap`."""
    if action.target.startswith("<"):
        return "skipped", "pseudonymous target (a log line's pseudonym): nothing to act on"
    if action.action in {"block_ip", "challenge_ip"}:
        protected = never_blocked(action.target, settings)
        if protected is not None:
            return "skipped", f"never_block: {action.target} is within {protected}"
    if settings.dry_run(action.action):
        return "dry_run", f"dry run: would {action.action} {action.target}"
    if blocking:
        since = datetime.now(UTC) - timedelta(hours=1)
        taken = automatic_blocks_since(conn, since) - (1 if action.status == "pending" else 0)
        if taken >= settings.soar_max_blocks_per_hour:
            return (
                "skipped",
                f"cap: {taken} automatic blocks in the last hour (limit {settings.soar_max_blocks_per_hour})",
            )
    return None


def lock_cap(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (CAP_LOCK,))

"""Blocklist entries and SOAR actions as people change them: add, remove, undo (shared.soar does the
work: the scoring lookup's cached verdict is invalidated on every change, and the WAF IP sets are
synced for IP and challenge entries). In AWS the effectors are boto3's; locally there is no WAF (the
local gateway reads the blocklist itself) and no Cognito pool, so those effects are reported, not done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from shared.cache.clients import get_redis
from shared.config import get_security_settings, get_settings
from shared.errors import NotFound, ValidationFailed
from shared.soar import blocklist
from shared.soar.actions import Action, get_action
from shared.soar.aws import Effectors
from shared.soar.blocklist import BlockEntry
from shared.soar.entry import aws_effectors
from shared.soar.responses import sync, undo

_DEPLOYED = frozenset({"dev", "prod"})


class LocalEffectors:
    """No WAF and no Cognito outside AWS: each effect says what it would have done."""

    def sync_ip_set(self, kind: str, networks: Sequence[str]) -> dict[str, Any]:
        return {"local": f"no WAF IP set; the local gateway reads the {kind} list", "networks": len(networks)}

    def page(self, severity: str, subject: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"local": "no pager", "subject": subject}

    def disable_user(self, username: str) -> dict[str, Any]:
        return {"local": "no Cognito pool", "user": username}

    def enable_user(self, username: str) -> dict[str, Any]:
        return {"local": "no Cognito pool", "user": username}


def effectors() -> Effectors:
    if get_settings().environment in _DEPLOYED:
        return aws_effectors(get_security_settings())
    return LocalEffectors()


def add_block(
    conn: psycopg.Connection[Any],
    kind: str,
    value: str,
    *,
    reason: str,
    expires_at: datetime | None,
    by: str,
) -> tuple[BlockEntry | None, BlockEntry, dict[str, Any]]:
    """(the entry before, after, the WAF sync) of `by` adding or renewing an entry."""
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ValidationFailed("expires_at must be in the future (or null: never)", field="expires_at")
    stored = blocklist.canonical_value(kind, value)
    before = next(
        (e for e in blocklist.list_entries(conn, kind, include_expired=True) if e.value == stored), None
    )
    after = blocklist.add_entry(
        conn, kind, value, reason=reason, source=f"admin:{by}", expires_at=expires_at, cache=get_redis()
    )
    synced = sync(conn, kind, effectors()) if kind != "wallet" else {}
    return before, after, synced


def remove_block(conn: psycopg.Connection[Any], kind: str, value: str) -> tuple[BlockEntry, dict[str, Any]]:
    removed = blocklist.remove_entry(conn, kind, value, cache=get_redis())
    if removed is None:
        raise NotFound(f"no {kind} entry {value} on the blocklist", field="value")
    synced = sync(conn, kind, effectors()) if kind != "wallet" else {}
    return removed, synced


def undo_action(conn: psycopg.Connection[Any], action_id: int, by: str) -> tuple[Action, Action]:
    before = get_action(conn, action_id)
    if before is None:
        raise NotFound(f"no SOAR action {action_id}", field="action_id")
    return before, undo(conn, action_id, by, effectors(), get_redis())

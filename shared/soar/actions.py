"""Every SOAR action, recorded (soar.actions): what, on which target, why (the finding, the reason),
when, until when, what became of it, and who undid it. One row per (finding, action, target): a finding
delivered twice (an EventBridge retry, a rerun after a crash) is acted on once.

Statuses: `pending` (claimed, the effect not yet confirmed), `done`, `dry_run` (what would have been
done), `skipped` (a guardrail said no: the reason names it), `failed`, `undone`, `expired`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

ActionName = Literal["block_ip", "blacklist_wallet", "challenge_ip", "page", "disable_admin"]
Status = Literal["pending", "done", "dry_run", "skipped", "failed", "undone", "expired"]
# The blocklist kind each listing action writes.
BLOCKLIST_KIND: dict[str, Literal["wallet", "ip", "challenge"]] = {
    "block_ip": "ip",
    "blacklist_wallet": "wallet",
    "challenge_ip": "challenge",
}
_COLUMNS = (
    "action_id, finding_id, action, target, status, reason, actor, details, expires_at, created_at,"
    " updated_at, undone_at, undone_by"
)


class Action(BaseModel):
    action_id: int
    finding_id: int | None
    action: ActionName
    target: str
    status: Status
    reason: str
    actor: str
    details: dict[str, Any]
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    undone_at: datetime | None
    undone_by: str | None


def claim(
    conn: psycopg.Connection[Any],
    *,
    finding_id: int | None,
    action: ActionName,
    target: str,
    reason: str,
    actor: str = "soar",
    expires_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> tuple[Action, bool]:
    """Record an action as `pending`, once per (finding, action, target); returns the row and whether
    this call created it. A row left `pending` or `failed` by an earlier run is returned as not
    created: the caller may retry its effect (the effects are idempotent), never a second row."""
    cursor = conn.cursor(row_factory=dict_row)
    row = cursor.execute(
        f"""INSERT INTO soar.actions (finding_id, action, target, status, reason, actor, expires_at, details)
            VALUES (%s, %s, %s, 'pending', %s, %s, %s, %s)
            ON CONFLICT (finding_id, action, target) WHERE finding_id IS NOT NULL DO NOTHING
            RETURNING {_COLUMNS}""",
        (finding_id, action, target, reason, actor, expires_at, Jsonb(details or {})),
    ).fetchone()
    if row is not None:
        return Action.model_validate(row), True
    existing = cursor.execute(
        f"SELECT {_COLUMNS} FROM soar.actions WHERE finding_id = %s AND action = %s AND target = %s",
        (finding_id, action, target),
    ).fetchone()
    assert existing is not None
    return Action.model_validate(existing), False


def settle(
    conn: psycopg.Connection[Any],
    action_id: int,
    status: Status,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> Action:
    """Set an action's outcome (and, optionally, its reason; `details` are merged into its details)."""
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"""UPDATE soar.actions SET status = %s, reason = coalesce(%s, reason),
                       details = details || %s, updated_at = now()
                 WHERE action_id = %s RETURNING {_COLUMNS}""",
            (status, reason, Jsonb(details or {}), action_id),
        )
        .fetchone()
    )
    if row is None:
        raise LookupError(f"no action {action_id}")
    return Action.model_validate(row)


def get_action(conn: psycopg.Connection[Any], action_id: int) -> Action | None:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(f"SELECT {_COLUMNS} FROM soar.actions WHERE action_id = %s", (action_id,))
        .fetchone()
    )
    return None if row is None else Action.model_validate(row)


def list_actions(
    conn: psycopg.Connection[Any],
    *,
    finding_id: int | None = None,
    action: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[Action]:
    """Actions, newest first, filtered by finding, action, status and time; `before_id` pages on."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"""SELECT {_COLUMNS} FROM soar.actions
                 WHERE (%(finding)s::bigint IS NULL OR finding_id = %(finding)s)
                   AND (%(action)s::text IS NULL OR action = %(action)s)
                   AND (%(status)s::text IS NULL OR status = %(status)s)
                   AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
                   AND (%(before)s::bigint IS NULL OR action_id < %(before)s)
                 ORDER BY action_id DESC LIMIT %(limit)s""",
            {
                "finding": finding_id,
                "action": action,
                "status": status,
                "since": since,
                "before": before_id,
                "limit": limit,
            },
        )
        .fetchall()
    )
    return [Action.model_validate(row) for row in rows]


def automatic_blocks_since(conn: psycopg.Connection[Any], since: datetime) -> int:
    """Blocking actions (block, blacklist, challenge, disable) the SOAR took itself since `since`:
    what the hourly cap counts (dry runs and skipped ones are not blocks)."""
    row = conn.execute(
        """SELECT count(*) FROM soar.actions
            WHERE actor = 'soar' AND action <> 'page' AND status IN ('pending', 'done', 'undone', 'expired')
              AND created_at >= %s""",
        (since,),
    ).fetchone()
    return int(row[0]) if row else 0


def mark_undone(conn: psycopg.Connection[Any], action_id: int, actor: str) -> Action:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"""UPDATE soar.actions SET status = 'undone', undone_at = now(), undone_by = %s, updated_at = now()
                 WHERE action_id = %s RETURNING {_COLUMNS}""",
            (actor, action_id),
        )
        .fetchone()
    )
    if row is None:
        raise LookupError(f"no action {action_id}")
    return Action.model_validate(row)


def mark_expired(conn: psycopg.Connection[Any], action_ids: list[int]) -> int:
    cursor = conn.execute(
        "UPDATE soar.actions SET status = 'expired', updated_at = now() WHERE action_id = ANY(%s) AND status = 'done'",
        (action_ids,),
    )
    return cursor.rowcount

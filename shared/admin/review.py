"""The review queue: the MANUAL_REVIEW and REQUIRE_2FA decisions, claimed by an analyst and resolved
as fraud or legitimate. A resolution stores a `review` label (intel.fraud_labels), which training and
the KPIs read like a chargeback; a later label from the marketplace (a chargeback) still wins by time,
as every label does (shared/ingest/store.py).

A claim lasts `CLAIM_TTL` (another analyst may take an item whose claim went stale); resolving an item
someone else holds is refused (409), and a resolved item stays resolved (409).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from shared.errors import Conflict, NotFound

REVIEWABLE = ("MANUAL_REVIEW", "REQUIRE_2FA")
CLAIM_TTL = timedelta(minutes=15)
QueueStatus = Literal["open", "claimed", "resolved", "all"]
Resolution = Literal["fraud", "legitimate"]


class ReviewItem(BaseModel):
    transaction_id: str
    wallet_address: str
    ticket_id: str
    price_paid: float
    fraud_score: float | None
    decision: str
    reason: str
    top_features: Any
    model_version: str
    decided_at: datetime
    status: Literal["open", "claimed", "resolved"]
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution: Resolution | None = None
    note: str | None = None


_SELECT = """
SELECT p.transaction_id, p.wallet_address, p.ticket_id, p.price_paid::float8 AS price_paid, p.fraud_score,
       p.decision, p.reason, p.top_features, p.model_version, p.created_at AS decided_at,
       CASE WHEN r.status IS NULL OR (r.status = 'claimed' AND r.claimed_at < now() - %(ttl)s) THEN 'open'
            ELSE r.status END AS status,
       r.claimed_by, r.claimed_at, r.resolved_by, r.resolved_at, r.resolution, r.note
  FROM intel.fraud_predictions p
  LEFT JOIN intel.review_items r USING (transaction_id)
 WHERE p.decision IN ('MANUAL_REVIEW', 'REQUIRE_2FA')"""


def list_queue(
    conn: psycopg.Connection[Any],
    *,
    status: QueueStatus = "open",
    decision: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[ReviewItem]:
    """Items newest first; `status` open (no live claim), claimed, resolved or all."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"""SELECT * FROM ({_SELECT}
                   AND (%(decision)s::text IS NULL OR p.decision = %(decision)s)
                   AND (%(since)s::timestamptz IS NULL OR p.created_at >= %(since)s)) q
                 WHERE %(status)s = 'all' OR q.status = %(status)s
                 ORDER BY decided_at DESC LIMIT %(limit)s""",
            {"ttl": CLAIM_TTL, "decision": decision, "since": since, "status": status, "limit": limit},
        )
        .fetchall()
    )
    return [ReviewItem.model_validate(row) for row in rows]


def get_item(conn: psycopg.Connection[Any], transaction_id: str, *, lock: bool = False) -> ReviewItem:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(_SELECT + " AND p.transaction_id = %(txn)s", {"ttl": CLAIM_TTL, "txn": transaction_id})
        .fetchone()
    )
    if row is None:
        raise NotFound(
            f"no review item {transaction_id}: not a MANUAL_REVIEW or REQUIRE_2FA decision",
            field="transaction_id",
        )
    if lock:  # two analysts claiming at once: the second waits, then sees the first's claim
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('review:' || %s))", (transaction_id,))
        return get_item(conn, transaction_id)
    return ReviewItem.model_validate(row)


def claim(conn: psycopg.Connection[Any], transaction_id: str, analyst: str) -> tuple[ReviewItem, ReviewItem]:
    """(before, after) of `analyst` claiming the item; 409 when resolved or held by someone else."""
    before = get_item(conn, transaction_id, lock=True)
    if before.status == "resolved":
        raise Conflict(f"{transaction_id} is already resolved ({before.resolution}) by {before.resolved_by}")
    if before.status == "claimed" and before.claimed_by != analyst:
        raise Conflict(
            f"{transaction_id} is claimed by {before.claimed_by} since {before.claimed_at:%H:%M:%S}Z"
        )
    conn.execute(
        """INSERT INTO intel.review_items (transaction_id, status, claimed_by, claimed_at)
           VALUES (%s, 'claimed', %s, now())
           ON CONFLICT (transaction_id) DO UPDATE SET claimed_by = EXCLUDED.claimed_by, claimed_at = now()""",
        (transaction_id, analyst),
    )
    return before, get_item(conn, transaction_id)


def resolve(
    conn: psycopg.Connection[Any], transaction_id: str, analyst: str, resolution: Resolution, note: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Resolve the item (claiming it when open) and store its label; (before, after) for the audit."""
    before, _ = claim(conn, transaction_id, analyst)
    label_before = _label(conn, transaction_id)
    conn.execute(
        """UPDATE intel.review_items SET status = 'resolved', resolved_by = %s, resolved_at = now(),
                  resolution = %s, note = %s WHERE transaction_id = %s""",
        (analyst, resolution, note, transaction_id),
    )
    conn.execute(
        """INSERT INTO intel.fraud_labels AS l (transaction_id, is_fraud, source, labelled_at)
           VALUES (%s, %s, 'review', now())
           ON CONFLICT (transaction_id) DO UPDATE SET is_fraud = EXCLUDED.is_fraud, source = EXCLUDED.source,
               labelled_at = EXCLUDED.labelled_at, labelled_ns = 0
           WHERE (l.labelled_at, l.labelled_ns) <= (EXCLUDED.labelled_at, 0)""",
        (transaction_id, resolution == "fraud"),
    )
    after = get_item(conn, transaction_id)
    return (
        {"item": before.model_dump(mode="json"), "label": label_before},
        {"item": after.model_dump(mode="json"), "label": _label(conn, transaction_id)},
    )


def _label(conn: psycopg.Connection[Any], transaction_id: str) -> dict[str, Any] | None:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT is_fraud, source, labelled_at FROM intel.fraud_labels WHERE transaction_id = %s",
            (transaction_id,),
        )
        .fetchone()
    )
    return None if row is None else {**row, "labelled_at": row["labelled_at"].isoformat()}

"""The online feature store in PostgreSQL: one query gathers every fact about a purchase from the
batch feature tables (the snapshots in force at its time) and the loaded transactions (exact)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from shared.errors import DependencyUnavailable
from shared.features import formulas
from shared.features.facts import Facts, ScoringContext, centrality_day, chain_ticket_id

FACTS_SQL = """
WITH tid AS (
    -- an integer ticket id is the row's; a text id, the integer ingest gave it (ingest.external_ids)
    SELECT coalesce(%(ticket)s::bigint,
                    (SELECT internal_id FROM ingest.external_ids
                      WHERE kind = 'ticket' AND external_id = %(ticket_text)s)) AS id
), tk AS (
    SELECT * FROM (
        SELECT ticket_id, event_id, minted_at, 0 AS preference FROM intel.tickets
         WHERE ticket_id = (SELECT id FROM tid)
        UNION ALL
        SELECT ticket_id, event_id, minted_at, 1 FROM marketplace.tickets WHERE ticket_id = (SELECT id FROM tid)
    ) candidates ORDER BY preference LIMIT 1
), wl AS (
    -- the wallet's account; the backend's own table for a wallet the ETL has not loaded yet
    SELECT user_id FROM (
        SELECT user_id, 0 AS preference FROM intel.wallets WHERE address = %(wallet)s AND user_id IS NOT NULL
        UNION ALL
        SELECT user_id, 1 FROM marketplace.wallets WHERE address = %(wallet)s
    ) candidates ORDER BY preference LIMIT 1
), snapshot AS (
    SELECT max(snapshot_day) AS day FROM intel.centrality_snapshots WHERE snapshot_day <= %(day)s
)
SELECT tk.event_id, tk.minted_at,
       coalesce((SELECT face_value FROM intel.events WHERE event_id = tk.event_id),
                (SELECT face_value FROM marketplace.events WHERE event_id = tk.event_id))::float8,
       CASE WHEN tk.event_id IS NULL THEN NULL ELSE coalesce(ef.event_popularity_score, 0.0) END,
       ef.ref_price_7d,
       wl.user_id,
       least(wf.first_seen_at, (SELECT min(f.occurred_at) FROM intel.transactions f
                                 WHERE f.wallet_address = %(wallet)s AND f.occurred_at < %(at)s),
             -- the wallet's registration: the backend's own record (wallet.linked through ingest)
             (SELECT created_at FROM marketplace.wallets WHERE address = %(wallet)s AND created_at < %(at)s)),
       wf.avg_ticket_hold_time,
       coalesce(wf.cross_event_attendance, 0),
       CASE WHEN wl.user_id IS NULL THEN NULL ELSE coalesce(uf.payment_method_diversity, 0) END,
       CASE WHEN snapshot.day IS NULL THEN NULL
            ELSE coalesce((SELECT pagerank FROM intel.wallet_centrality
                           WHERE address = %(wallet)s AND snapshot_day = snapshot.day), 0.0) END,
       (SELECT array_agg(v.ticket_id::text || ':' || floor(extract(epoch FROM v.occurred_at) * 1000)::bigint::text)
          FROM intel.transactions v
         WHERE v.wallet_address = %(wallet)s AND v.occurred_at > %(at)s - %(w1)s AND v.occurred_at < %(at)s),
       (SELECT count(*) FROM intel.transactions v
         WHERE v.wallet_address = %(wallet)s AND v.occurred_at > %(at)s - %(w1)s AND v.occurred_at < %(at)s),
       pl.geo_lat, pl.geo_lon, pl.occurred_at
FROM snapshot
LEFT JOIN tk ON true  -- an unknown ticket: the purchase is scored without its ticket's features
LEFT JOIN wl ON true
LEFT JOIN intel.event_features ef ON ef.event_id = tk.event_id
LEFT JOIN intel.wallet_features wf ON wf.address = %(wallet)s
LEFT JOIN intel.user_features uf ON uf.user_id = wl.user_id
LEFT JOIN LATERAL (
    SELECT geo_lat, geo_lon, occurred_at FROM intel.transactions
    WHERE user_id = wl.user_id AND occurred_at < %(at)s AND geo_lat IS NOT NULL
    ORDER BY occurred_at DESC LIMIT 1) pl ON true
"""


def facts_statement(ctx: ScoringContext) -> tuple[str, dict[str, Any]]:
    """The facts query of this purchase and its parameters, for a caller that sends it beside its own
    statements (one PostgreSQL round trip for all); `facts_from_row` reads its row."""
    return FACTS_SQL, {
        "ticket": chain_ticket_id(ctx.ticket_id),
        "ticket_text": ctx.ticket_id if isinstance(ctx.ticket_id, str) else None,
        "wallet": ctx.wallet_address,
        "at": ctx.at,
        "day": centrality_day(ctx.at),
        "w1": formulas.VELOCITY_WINDOW,
    }


def facts_from_postgres(ctx: ScoringContext, pool: Any) -> Facts:
    """One query; DependencyUnavailable when PostgreSQL does not answer. An unknown ticket gives
    facts without its ticket and event (event_id None)."""
    statement, params = facts_statement(ctx)
    try:
        with pool.connection() as conn:
            row = conn.execute(statement, params).fetchone()
    except (psycopg.OperationalError, PoolTimeout) as exc:  # includes statement timeouts
        raise DependencyUnavailable("the feature store (PostgreSQL) is unavailable") from exc
    assert row is not None  # FROM snapshot: an aggregate, always one row
    return facts_from_row(row)


def facts_from_row(row: tuple[Any, ...]) -> Facts:
    """The facts from the row of `facts_statement`."""
    (event_id, minted_at, face_value, popularity, ref_price, user_id, first_seen, hold, attendance,
     diversity, centrality, members, velocity, lat, lon, prev_at) = row  # fmt: skip
    return Facts(
        event_id=event_id,
        minted_at=minted_at,
        face_value=face_value,
        popularity=popularity,
        ref_price=ref_price,
        user_id=user_id,
        first_seen_at=first_seen,
        hold_time=hold,
        attendance=None if attendance is None else float(attendance),
        payment_diversity=None if diversity is None else float(diversity),
        centrality=centrality,
        velocity=int(velocity),
        velocity_members=list(members or []),
        previous_location=(lat, lon, prev_at) if lat is not None and lon is not None else None,
    )

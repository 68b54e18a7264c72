"""The online feature store in PostgreSQL: one query gathers every fact about a purchase from the
batch feature tables (the snapshots in force at its time) and the loaded transactions (exact). The query
is a PL/pgSQL function, `intel.purchase_facts` (migration 0710), so that PostgreSQL keeps its plan per
server connection instead of parsing and planning it again on every feature-cache miss (issue 29)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from shared.errors import DependencyUnavailable
from shared.features import formulas
from shared.features.facts import Facts, ScoringContext, centrality_day, chain_ticket_id

FACTS_SQL = """
SELECT * FROM intel.purchase_facts(
    %(ticket)s::bigint, %(ticket_text)s::text, %(wallet)s::text, %(at)s::timestamptz, %(day)s::date,
    %(w1)s::interval)
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

"""The cold-start guard on the request path (issue 23 item 5; shared/scoring/coldstart.py): the scoring
service reads the live score distribution from PostgreSQL (GUARD_SQL) and serves the guarded score while
the marketplace's history is short; with history it serves the model's own. The guard's arithmetic is
tests/unit/test_cold_start_guard.py's; this is the SQL and the service around it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from shared.config import get_thresholds
from shared.scoring import coldstart
from shared.scoring.coldstart import guarded_score, percentile_cont, read_state
from shared.scoring.service import score_transaction
from shared.scoring.types import PredictRequest
from tests.fixtures.api import Market

# 300 model decisions of the last 24 h, 20% of them at REQUIRE_2FA or above (0.40): a model flagging far
# more than the 3% budget. Scores 0.001..0.300 and 0.400..0.475, in steps that keep every value distinct.
RAW = [round(0.001 * (i + 1), 6) for i in range(240)] + [round(0.40 + 0.00125 * i, 6) for i in range(60)]


def _decided(db: psycopg.Connection, now: datetime) -> None:
    with db.cursor() as cur:
        cur.executemany(
            """INSERT INTO intel.fraud_predictions (transaction_id, wallet_address, ticket_id, price_paid,
                   fraud_score, model_score, decision, features, top_features, model_version, created_at)
               VALUES (%s, '0xa', '1', 10, %s, %s, 'APPROVED', '{}', '{}', 'v1', %s)""",
            [(f"past-{i}", s, s, now - timedelta(minutes=1 + i * 4)) for i, s in enumerate(RAW)],
        )


def _old_orders(db: psycopg.Connection, market: Market, n: int, now: datetime, first: int = 50_000) -> None:
    """`n` orders 40 days before `now`, by the second user (the one the tests do not score)."""
    db.execute(
        """INSERT INTO marketplace.orders (order_id, transaction_id, ticket_id, event_id, buyer_user_id,
               buyer_wallet, kind, price, fee, payment_type, payment_instrument, client_ip, status, created_at)
           SELECT %s + g, 'old-' || (%s + g), %s, %s, 2, %s, 'primary', 80, 4, 'card', 'card_old', '198.51.100.7',
                  'completed', %s
             FROM generate_series(1, %s) g""",
        (
            first,
            first,
            market.ticket_ids[-1],
            market.event_id,
            market.other_wallet,
            now - timedelta(days=40),
            n,
        ),
    )


def _score(market: Market, txn: str) -> tuple[float, float]:
    """(served score, the model's own) of an honest purchase, as stored."""
    response = score_transaction(
        PredictRequest(
            transaction_id=txn,
            wallet_address=market.honest_wallet,
            ticket_id=market.ticket_ids[0],
            price_paid=80.0,
        ),
        client_ip="203.0.113.50",
    )
    assert response.fraud_score is not None
    return response.fraud_score, _model_score(txn)


def _model_score(txn: str) -> float:
    from shared.db import get_pool

    with get_pool().connection() as conn:
        row = conn.execute(
            "SELECT model_score FROM intel.fraud_predictions WHERE transaction_id = %s", (txn,)
        ).fetchone()
    assert row is not None
    return float(row[0])


@pytest.fixture
def young(db: psycopg.Connection, api_market: Market, api_state: None, redis_url: str) -> Market:
    """The scoring market with 999 orders older than 28 days (one short of a history) and RAW decided."""
    now = datetime.now(UTC)
    _old_orders(db, api_market, coldstart.MIN_HISTORY_ORDERS - 1, now)
    _decided(db, now)
    return api_market


def test_given_a_short_history_and_a_model_flagging_20_percent_then_the_guard_serves_the_mapped_score(
    young: Market,
) -> None:
    # Given a marketplace one order short of a history, whose model flagged 20% of the last day's purchases
    thresholds = get_thresholds()
    cut = percentile_cont(sorted(RAW), 1 - coldstart.FLAG_SHARE_BUDGET)
    assert cut is not None and cut > thresholds.two_factor
    # When the guard reads its state from PostgreSQL
    from shared.db import get_pool

    state = read_state(get_pool(), datetime.now(UTC), thresholds)
    # Then it sees the short history, the 300 decisions, the 20% and the live 97th percentile
    assert (state.old_orders, state.scores) == (coldstart.MIN_HISTORY_ORDERS - 1, len(RAW))
    assert state.flagged_share == pytest.approx(0.2)
    assert state.cut == pytest.approx(cut)
    # And a purchase scored now is served the model's score through the guard's map, lower than its own
    served, model = _score(young, "cold-1")
    assert served == pytest.approx(guarded_score(model, state.cut, thresholds), abs=1e-6)
    assert served < model or model == 0.0


def test_given_a_history_then_the_guard_is_off_and_the_model_score_is_served(
    young: Market, db: psycopg.Connection
) -> None:
    # Given the same marketplace with its thousandth order older than 28 days
    _old_orders(db, young, 1, datetime.now(UTC), first=90_000)
    # When a purchase is scored
    served, model = _score(young, "warm-1")
    # Then the model's own score is served
    assert served == model

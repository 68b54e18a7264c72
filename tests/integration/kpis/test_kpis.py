"""The five KPIs against hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from shared.errors import ValidationFailed
from shared.etl.backend import sync_backend
from shared.kpis import compute_kpis, confusion_counts
from tests.fixtures.etl import T0, Market


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def label(db: psycopg.Connection, txn: str, is_fraud: bool) -> None:
    db.execute(
        "INSERT INTO intel.fraud_labels (transaction_id, is_fraud, source, labelled_at) VALUES (%s, %s, 'review', %s)",
        (txn, is_fraud, T0 + timedelta(days=3)),
    )


def decide(db: psycopg.Connection, txn: str, decision: str) -> None:
    db.execute(
        "INSERT INTO intel.fraud_predictions (transaction_id, wallet_address, ticket_id, price_paid, fraud_score,"
        " decision, features, top_features, model_version) VALUES (%s, '0x' || repeat('0', 40), '1', 1, 0.5, %s,"
        " '{}', '[]', 'test')",
        (txn, decision),
    )


def test_each_kpi_matches_a_hand_computed_value(db: psycopg.Connection, market: Market) -> None:
    # Given three users, three events and ten orders, eight of them in the window [T0, T0 + 2 h)
    u1, u2, u3 = market.user(), market.user(), market.user()
    w1, w2, w3 = market.wallet(u1), market.wallet(u2), market.wallet(u3)
    e1, e2, e3 = market.event(), market.event(), market.event()
    k1 = market.ticket(e1, minted_at=T0 - timedelta(days=10))
    k2 = market.ticket(e1, minted_at=T0 - timedelta(days=20))
    k3, k4 = market.ticket(e2), market.ticket(e2)
    k5, k6 = market.ticket(e3), market.ticket(e1)
    market.order(k6, w1, at=T0 - timedelta(days=5))
    market.order(k6, w3, at=T0 - timedelta(days=1), price="70.00", fee="7.00", seller_wallet=w1)
    t1 = market.order(k1, w1, at=T0 + m(10))
    t2 = market.order(k2, w2, at=T0 + m(20))
    ta = market.order(k6, w2, at=T0 + m(30), price="60.00", fee="6.00", seller_wallet=w3)
    t3 = market.order(k1, w3, at=T0 + m(70), price="80.00", fee="8.00", seller_wallet=w1)
    t4 = market.order(k3, w2, at=T0 + m(90), status="refunded")
    t5 = market.order(k4, w2, at=T0 + m(100))
    t6 = market.order(k5, w1, at=T0 + m(110))
    tb = market.order(k2, w3, at=T0 + m(115), price="60.00", fee="6.00", seller_wallet=w2)
    sync_backend(db)
    label(db, t1, True)
    decide(db, t1, "BLOCKED")
    label(db, t2, True)
    decide(db, t2, "APPROVED")
    label(db, t3, False)
    decide(db, t3, "REQUIRE_2FA")
    label(db, t4, False)
    decide(db, t4, "APPROVED")
    label(db, t5, False)
    decide(db, t6, "MANUAL_REVIEW")
    # (four frauds, two legitimate: the two rates and the confusion matrix's cells all differ)
    label(db, ta, True)
    decide(db, ta, "REQUIRE_2FA")
    label(db, tb, True)
    decide(db, tb, "REQUIRE_2FA")

    # When the KPIs of the window are computed
    report = compute_kpis(db, T0, T0 + timedelta(hours=2))

    # Then each matches the hand computation
    assert report.counts.transactions == 8
    # fraud: t1 blocked, ta and tb 2FA, t2 approved -> 3 of 4 caught
    assert (report.counts.labelled_fraud, report.counts.fraud_not_approved) == (4, 3)
    assert report.fraud_detection_rate == 0.75
    # legit with a decision: t3 (2FA), t4 (approved) -> 1 of 2 flagged; t5 has no decision
    assert (report.counts.labelled_legit, report.counts.legit_not_approved) == (2, 1)
    assert report.false_positive_rate == 0.5
    assert report.counts.labelled_without_decision == 1
    # first resales in the window: k1 (minted -10 d, resold +70 min), k2 (minted -20 d, +115 min);
    # k6 was first resold before the window
    assert report.counts.first_resales == 2
    assert report.ticket_resale_velocity_hours == pytest.approx(((240 + 70 / 60) + (480 + 115 / 60)) / 2)
    # fees of completed orders: 5 + 5 + 6 | 8 + 5 + 5 + 6 (t4 refunded) = 40 over 2 hours
    assert report.counts.total_fees == 40
    assert report.revenue_per_hour == 20
    assert [(h.hour, h.fees) for h in report.hourly_fees] == [(T0, 16.0), (T0 + timedelta(hours=1), 24.0)]
    # engagement as of T0 + 2 h: (recency, frequency, breadth) per user
    u1_score = ((1 - (10 / 1440) / 30) + 3 / 10 + 2 / 5) / 3  # last +110 min; 3 purchases; E1, E3
    u2_score = ((1 - (20 / 1440) / 30) + 4 / 10 + 2 / 5) / 3  # last +100 min; 4 purchases; E1, E2
    u3_score = ((1 - (5 / 1440) / 30) + 3 / 10 + 1 / 5) / 3  # last +115 min; 3 purchases; E1
    assert report.counts.active_users == 3
    assert report.user_engagement_score == pytest.approx((u1_score + u2_score + u3_score) / 3)

    # And the dashboard's confusion counts (predictions made just now; "caught" = BLOCKED or
    # MANUAL_REVIEW): t1 fraud blocked (TP); t2 fraud approved, ta and tb frauds asked for 2FA (FN);
    # t3 legit 2FA and t4 legit approved (TN); t6 has no label
    now = datetime.now(UTC)
    confusion = confusion_counts(db, now - timedelta(hours=1), now + timedelta(minutes=1))
    assert confusion.model_dump() == {
        "true_positive": 1,
        "false_positive": 0,
        "true_negative": 2,
        "false_negative": 3,
    }


def test_an_empty_window_gives_none_rates_not_zero(db: psycopg.Connection) -> None:
    report = compute_kpis(db, T0, T0 + timedelta(hours=1))
    assert report.fraud_detection_rate is None and report.false_positive_rate is None
    assert report.ticket_resale_velocity_hours is None and report.user_engagement_score is None
    assert report.revenue_per_hour == 0 and report.counts.transactions == 0


def test_a_backwards_window_is_refused(db: psycopg.Connection) -> None:
    with pytest.raises(ValidationFailed):
        compute_kpis(db, T0, T0 - timedelta(hours=1))

"""Issue 11 item 2 against the real PostgreSQL (through the pooler, as deployed): facts stored once,
late and out-of-order facts resolved by occurred_at, labels, and a crash mid-batch then a rerun."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from shared.ingest import store
from tests.fixtures.ingest import at, event, ingest_events, listed_event, minted, order, user

WALLET = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20


pytestmark = pytest.mark.usefixtures("fresh_pool")


def _market_batch() -> list[dict[str, Any]]:
    """A new user, its wallet, an event, a ticket and a paid order, children before parents."""
    return [
        event("order.paid", order(501, ticket_id=7001, event_id=70, user_id=11, wallet=WALLET)),
        event("ticket.minted", minted(7001, 70)),
        event("wallet.linked", {"address": WALLET, "user_id": 11}),
        event("event.listed", listed_event(70)),
        event("user.created", user(11)),
    ]


def _count(db: psycopg.Connection, sql: str) -> int:
    row = db.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_given_a_new_market_in_one_batch_when_ingested_then_every_row_is_stored(
    db: psycopg.Connection,
) -> None:
    # Given a batch whose children come before their parents. When ingested
    response = ingest_events(_market_batch())
    # Then every event is accepted and its row is there
    assert [r.status for r in response.results] == ["accepted"] * 5
    assert db.execute("SELECT user_id FROM marketplace.wallets WHERE address = %s", (WALLET,)).fetchone() == (
        11,
    )
    assert db.execute(
        "SELECT status, host(client_ip) FROM marketplace.orders WHERE order_id = 501"
    ).fetchone() == (
        "completed",
        "203.0.113.9",
    )
    assert _count(db, "SELECT count(*) FROM ingest.events") == 5


def test_given_a_stored_batch_when_sent_again_then_every_event_is_a_duplicate_and_nothing_changes(
    db: psycopg.Connection,
) -> None:
    batch = _market_batch()
    ingest_events(batch)
    before = db.execute("SELECT updated_at FROM marketplace.users WHERE user_id = 11").fetchone()
    # When the same batch arrives again
    response = ingest_events(batch)
    # Then nothing is applied twice
    assert [r.status for r in response.results] == ["duplicate"] * 5 and response.duplicates == 5
    assert db.execute("SELECT updated_at FROM marketplace.users WHERE user_id = 11").fetchone() == before
    assert _count(db, "SELECT count(*) FROM ingest.events") == 5


def test_given_a_wallet_of_an_unknown_user_when_ingested_then_it_is_rejected_and_accepted_once_the_user_is_in(
    db: psycopg.Connection,
) -> None:
    link = event("wallet.linked", {"address": WALLET, "user_id": 99})
    first = ingest_events([link])
    assert first.results[0].status == "rejected" and first.results[0].field == "data.user_id"
    # When the user arrives and the wallet is sent again
    second = ingest_events([event("user.created", user(99)), link])
    # Then it is stored
    assert [r.status for r in second.results] == ["accepted", "accepted"]


def test_given_an_email_taken_by_another_user_when_ingested_then_that_event_alone_is_rejected(
    db: psycopg.Connection,
) -> None:
    ingest_events([event("user.created", user(1))])
    response = ingest_events(
        [event("user.created", user(2, email="user1@example.com")), event("user.created", user(3))]
    )
    assert [r.status for r in response.results] == ["rejected", "accepted"]
    assert response.results[0].field is not None and response.results[0].field.startswith("data")


def test_given_updates_out_of_order_when_ingested_then_the_newest_occurred_at_wins(
    db: psycopg.Connection,
) -> None:
    ingest_events([event("user.created", user(5), occurred_at=at(30))])
    newer = event("user.updated", user(5, country="FR", kyc_level=2), occurred_at=at(10))
    older = event("user.updated", user(5, country="DE"), occurred_at=at(20))
    # When the newer update arrives before the older one (in two batches, and in one)
    ingest_events([newer])
    ingest_events([older])
    assert db.execute("SELECT country, kyc_level FROM marketplace.users WHERE user_id = 5").fetchone() == (
        "FR",
        2,
    )
    # Then a late fact older than the row is recorded but does not overwrite it
    ingest_events([event("user.updated", user(5, country="IT"), occurred_at=at(15))])
    assert db.execute("SELECT country FROM marketplace.users WHERE user_id = 5").fetchone() == ("FR",)
    assert _count(db, "SELECT count(*) FROM ingest.events") == 4


def test_given_a_late_refund_and_transfers_out_of_order_when_ingested_then_the_latest_state_holds(
    db: psycopg.Connection,
) -> None:
    ingest_events(_market_batch()[1:])
    paid = order(502, ticket_id=7001, event_id=70, user_id=11, wallet=WALLET)
    ingest_events(
        [event("order.refunded", paid, occurred_at=at(0.5)), event("order.paid", paid, occurred_at=at(0.8))]
    )
    assert db.execute("SELECT status FROM marketplace.orders WHERE order_id = 502").fetchone() == (
        "refunded",
    )
    ingest_events(
        [
            event(
                "ticket.transferred",
                {"ticket_id": 7001, "from_wallet": WALLET, "to_wallet": OTHER},
                occurred_at=at(0.2),
            ),
            event(
                "ticket.transferred",
                {"ticket_id": 7001, "from_wallet": OTHER, "to_wallet": WALLET},
                occurred_at=at(0.3),
            ),
        ]
    )
    assert db.execute("SELECT owner_wallet FROM marketplace.tickets WHERE ticket_id = 7001").fetchone() == (
        OTHER,
    )


def test_given_chargebacks_and_reviews_when_ingested_then_they_are_the_fraud_labels(
    db: psycopg.Connection,
) -> None:
    ingest_events(_market_batch())
    response = ingest_events(
        [
            event("chargeback.filed", {"transaction_id": "txn-501"}, occurred_at=at(0.5)),
            event("fraud.false_positive", {"transaction_id": "txn-9"}, occurred_at=at(0.5)),
            event("fraud.confirmed", {"transaction_id": "txn-10", "source": "ban"}, occurred_at=at(0.5)),
        ]
    )
    assert response.accepted == 3
    labels = db.execute(
        "SELECT transaction_id, is_fraud, source FROM intel.fraud_labels ORDER BY 1"
    ).fetchall()
    assert labels == [("txn-10", True, "ban"), ("txn-501", True, "chargeback"), ("txn-9", False, "review")]
    assert db.execute("SELECT status FROM marketplace.orders WHERE order_id = 501").fetchone() == (
        "charged_back",
    )
    # A later review overturns an earlier label; an older one does not
    ingest_events([event("fraud.confirmed", {"transaction_id": "txn-9"}, occurred_at=at(0.1))])
    ingest_events([event("fraud.false_positive", {"transaction_id": "txn-10"}, occurred_at=at(5))])
    assert db.execute("SELECT transaction_id, is_fraud FROM intel.fraud_labels ORDER BY 1").fetchall() == [
        ("txn-10", True),
        ("txn-501", True),
        ("txn-9", True),
    ]


def test_given_a_crash_mid_batch_when_the_batch_is_rerun_then_every_event_is_stored_exactly_once(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a writer that fails after the batch's users, events and wallets were written
    batch = _market_batch()
    real = store.apply_group
    calls = {"n": 0}

    def crash_on_fourth(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("the consumer died")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "apply_group", crash_on_fourth)
    with pytest.raises(RuntimeError):
        ingest_events(batch)
    # Then nothing of it is stored
    assert _count(db, "SELECT count(*) FROM ingest.events") == 0
    assert _count(db, "SELECT count(*) FROM marketplace.users") == 0
    # When the batch is rerun
    monkeypatch.setattr(store, "apply_group", real)
    response = ingest_events(batch)
    # Then every event is stored once
    assert response.accepted == 5
    assert _count(db, "SELECT count(*) FROM ingest.events") == 5
    for table in ("users", "wallets", "events", "tickets", "orders"):
        assert _count(db, f"SELECT count(*) FROM marketplace.{table}") == 1
    assert ingest_events(batch).duplicates == 5

"""Issue 11: a marketplace's own text ids ("usr_8f2", "evt_xyz_001") through ingest: each is given an
integer once (ingest.external_ids), every later fact finds the same row, and the ledger and the
rejection reasons keep the ids as they were sent."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.fixtures.ingest import event, ingest_events, listed_event, minted, order, user

WALLET = "0x" + "7e" * 20


pytestmark = pytest.mark.usefixtures("fresh_pool")


def _row(db: psycopg.Connection, sql: str, *params: Any) -> Any:
    return db.execute(sql, params).fetchone()


def test_given_text_ids_when_ingested_then_each_is_one_row_found_again_by_later_facts(
    db: psycopg.Connection,
) -> None:
    # Given a user, wallet, event, ticket and order that all carry the marketplace's text ids
    first = ingest_events(
        [
            event("user.created", user("usr_8f2")),  # type: ignore[arg-type]
            event("wallet.linked", {"address": WALLET, "user_id": "usr_8f2"}),
            event("event.listed", listed_event("evt_xyz")),  # type: ignore[arg-type]
            event("ticket.minted", minted("evt_xyz_001", "evt_xyz")),  # type: ignore[arg-type]
        ]
    )
    assert first.accepted == 4
    # When a later batch refers to them by the same text ids
    later = ingest_events(
        [
            event(
                "order.paid",
                order("ord_1", ticket_id="evt_xyz_001", event_id="evt_xyz", user_id="usr_8f2", wallet=WALLET),  # type: ignore[arg-type]
            ),
            event("user.updated", user("usr_8f2", country="FR"), occurred_at=None),  # type: ignore[arg-type]
        ]
    )
    # Then they resolve to the rows stored before: one user (updated), its wallet, the order on the ticket
    assert later.accepted == 2, later.results
    user_id = _row(
        db, "SELECT internal_id FROM ingest.external_ids WHERE kind = 'user' AND external_id = 'usr_8f2'"
    )[0]
    assert user_id >= 2**62
    assert _row(db, "SELECT count(*), min(country) FROM marketplace.users") == (1, "FR")
    assert _row(db, "SELECT user_id FROM marketplace.wallets WHERE address = %s", WALLET) == (user_id,)
    ticket_id = _row(
        db,
        "SELECT internal_id FROM ingest.external_ids WHERE kind = 'ticket' AND external_id = 'evt_xyz_001'",
    )[0]
    assert _row(db, "SELECT ticket_id, buyer_user_id FROM marketplace.orders") == (ticket_id, user_id)
    # and the ledger keeps what the marketplace sent
    assert _row(db, "SELECT data->>'ticket_id' FROM ingest.events WHERE type = 'order.paid'") == (
        "evt_xyz_001",
    )


def test_given_a_text_id_not_sent_yet_when_referenced_then_the_reason_names_it_as_sent(
    db: psycopg.Connection,
) -> None:
    response = ingest_events([event("wallet.linked", {"address": WALLET, "user_id": "usr_missing"})])
    [result] = response.results
    assert result.status == "rejected" and result.field == "data.user_id"
    assert "'usr_missing'" in (result.reason or "")
    # an integer and a text of digits are different ids: "12" is a text id
    both = ingest_events(
        [event("user.created", user(12)), event("user.created", user("12", email="text12@example.com"))]  # type: ignore[arg-type]
    )
    assert both.accepted == 2
    assert _row(db, "SELECT count(*) FROM marketplace.users") == (2,)


def test_given_a_user_ingested_by_a_text_id_when_erased_then_the_ledger_keeps_nothing_personal(
    database_url: str, db: psycopg.Connection
) -> None:
    from shared.retention import gdpr

    # Given a user and an order sent with the marketplace's text ids (the ledger holds them as sent)
    ingest_events(
        [
            event("user.created", user("usr_gone", email="gone@example.com")),  # type: ignore[arg-type]
            event("wallet.linked", {"address": WALLET, "user_id": "usr_gone"}),
            event("event.listed", listed_event("evt_g")),  # type: ignore[arg-type]
            event("ticket.minted", minted("evt_g_1", "evt_g")),  # type: ignore[arg-type]
            event(
                "order.paid",
                order("ord_g", ticket_id="evt_g_1", event_id="evt_g", user_id="usr_gone", wallet=WALLET),  # type: ignore[arg-type]
            ),
        ]
    )
    internal = _row(db, "SELECT internal_id FROM ingest.external_ids WHERE external_id = 'usr_gone'")[0]
    assert "gone@example.com" in str(db.execute("SELECT data FROM ingest.events").fetchall())
    # When the user is erased by the id the tables know it by
    with psycopg.connect(database_url) as conn:
        assert gdpr.erase(conn, None, internal, actor="test")["status"] == "erased"
    # Then the ledger's facts about that user hold no email and no buyer IP
    ledger = str(db.execute("SELECT data FROM ingest.events").fetchall())
    assert "gone@example.com" not in ledger and "203.0.113.9" not in ledger

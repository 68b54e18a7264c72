"""`ticket.listed` is stored (marketplace.ticket_listings, the newest listing per ticket) for the
pricing experiment's popularity signal; a listing of an unknown ticket is rejected like any child
fact whose parent is missing."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from tests.fixtures.ingest import at, event, ingest_events, listed_event, minted

pytestmark = pytest.mark.usefixtures("fresh_pool")
SELLER = "0x" + "ab" * 20


def _listed(price: str, ticket_id: int = 7001) -> dict:
    return {"ticket_id": ticket_id, "seller_wallet": SELLER, "price": price}


def test_given_listings_out_of_order_when_ingested_then_the_newest_one_is_kept(
    db: psycopg.Connection,
) -> None:
    # Given an event and its ticket
    ingest_events([event("event.listed", listed_event(70)), event("ticket.minted", minted(7001, 70))])
    # When the ticket's listing at 130 arrives, then an older one at 110 (a late delivery)
    newer = ingest_events([event("ticket.listed", _listed("130.00"), occurred_at=at(1))])
    older = ingest_events([event("ticket.listed", _listed("110.00"), occurred_at=at(3))])
    # Then both are accepted and the table holds the newest listing
    assert [r.status for r in newer.results + older.results] == ["accepted", "accepted"]
    assert db.execute("SELECT price, seller_wallet FROM marketplace.ticket_listings").fetchall() == [
        (Decimal("130.00"), SELLER)
    ]


def test_given_an_unknown_ticket_when_its_listing_arrives_then_it_is_rejected_naming_the_field(
    db: psycopg.Connection,
) -> None:
    response = ingest_events([event("ticket.listed", _listed("90.00", ticket_id=999))])
    assert response.results[0].status == "rejected" and response.results[0].field == "data.ticket_id"
    assert db.execute("SELECT count(*) FROM marketplace.ticket_listings").fetchone() == (0,)

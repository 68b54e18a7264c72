"""Backend extraction: incremental watermarks, idempotence, crash-and-rerun, rejects, geolocation."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import psycopg
import pytest

from shared.etl.backend import sync_backend
from tests.fixtures.etl import IP_JP, IP_US, T0, Market

SNAPSHOT_SQL = {
    "users": "SELECT user_id, email_hash, country, created_at FROM intel.users ORDER BY 1",
    "wallets": "SELECT address, user_id, created_at FROM intel.wallets ORDER BY 1",
    "events": "SELECT event_id, capacity, face_value FROM intel.events ORDER BY 1",
    "tickets": "SELECT ticket_id, event_id, minted_at FROM intel.tickets ORDER BY 1",
    "transactions": "SELECT transaction_id, order_id, ticket_id, price_paid, fee, geo_country, geo_lat, geo_lon,"
    " status, occurred_at FROM intel.transactions ORDER BY 1",
    "rejects": "SELECT source, natural_key, reason FROM intel.etl_rejects ORDER BY 1, 2",
}


def snapshot(db: psycopg.Connection) -> dict[str, list[tuple[object, ...]]]:
    return {name: db.execute(query).fetchall() for name, query in SNAPSHOT_SQL.items()}


def small_market(market: Market, orders: int = 6) -> list[str]:
    user = market.user()
    wallet = market.wallet(user)
    event = market.event()
    return [
        market.order(market.ticket(event), wallet, at=T0 + timedelta(minutes=n), ip=IP_US if n % 2 else IP_JP)
        for n in range(orders)
    ]


def test_first_run_normalises_and_geolocates(db: psycopg.Connection, market: Market) -> None:
    # Given a user with a wallet and two orders from the US and Japan
    txns = small_market(market, orders=2)
    # When the backend ETL runs
    stats = sync_backend(db)
    # Then every row is in intel, the email only as its hash, orders geolocated to the capital
    assert stats.rejected == 0 and stats.tables["orders"].written == 2
    user = db.execute("SELECT email_hash FROM intel.users").fetchone()
    assert user == (hashlib.sha256(b"user1@example.com").hexdigest(),)
    geo = dict(db.execute("SELECT transaction_id, geo_country FROM intel.transactions").fetchall())
    assert geo == {txns[0]: "JP", txns[1]: "US"}
    lat, lon = db.execute(
        "SELECT geo_lat, geo_lon FROM intel.transactions WHERE geo_country = 'JP'"
    ).fetchone()
    assert (lat, lon) == pytest.approx((35.6762, 139.6503))


def test_incremental_run_reads_only_changed_rows_and_same_window_twice_changes_nothing(
    db: psycopg.Connection, market: Market
) -> None:
    # Given a loaded marketplace
    small_market(market)
    sync_backend(db)
    before = snapshot(db)
    # When the ETL runs again with nothing new
    again = sync_backend(db)
    # Then it reads nothing and the tables are unchanged
    assert again.read == 0 and snapshot(db) == before
    # When the same window is re-read on purpose (repair run) it writes nothing either
    repair = sync_backend(db, since=T0 - timedelta(days=365))
    assert repair.read > 0 and repair.written == 0 and snapshot(db) == before
    # When one order changes status (a chargeback) and a new order arrives
    db.execute("UPDATE marketplace.orders SET status = 'charged_back', updated_at = now() WHERE order_id = 5")
    wallet = db.execute("SELECT address FROM marketplace.wallets").fetchone()[0]
    ticket = market.ticket(3)
    new_txn = market.order(ticket, wallet, at=T0 + timedelta(hours=2))
    later = sync_backend(db)
    # Then only those rows are read, and both changes are in intel
    assert (
        later.tables["orders"].read == 2
        and later.tables["tickets"].read == 1
        and later.tables["users"].read == 0
    )
    statuses = dict(db.execute("SELECT order_id, status FROM intel.transactions").fetchall())
    assert statuses[5] == "charged_back"
    assert db.execute("SELECT 1 FROM intel.transactions WHERE transaction_id = %s", (new_txn,)).fetchone()


class _Crash(RuntimeError):
    pass


def test_crash_between_batches_then_rerun_equals_one_clean_run(
    db: psycopg.Connection, market: Market
) -> None:
    # Given 25 orders loaded in batches of 4, stored out of their updated_at order (each row rewritten,
    # newest first, its updated_at kept: a scan without ORDER BY meets them newest first)
    small_market(market, orders=25)
    for (order_id,) in db.execute(
        "SELECT order_id FROM marketplace.orders ORDER BY updated_at DESC"
    ).fetchall():
        db.execute("UPDATE marketplace.orders SET updated_at = updated_at WHERE order_id = %s", (order_id,))
    scanned = [row[0] for row in db.execute("SELECT updated_at FROM marketplace.orders")]
    assert scanned != sorted(scanned)

    def crash_in_orders(table: str, batch: int) -> None:
        if table == "orders" and batch == 3:
            raise _Crash

    # When the run dies after the 3rd orders batch committed, then runs again
    with pytest.raises(_Crash):
        sync_backend(db, batch_rows=4, after_batch=crash_in_orders)
    assert db.execute("SELECT count(*) FROM intel.transactions").fetchone() == (12,)
    sync_backend(db, batch_rows=4)
    crashed_then_rerun = snapshot(db)
    # Then the result equals a clean run from scratch on the same data
    db.execute("TRUNCATE intel.transactions, intel.tickets, intel.events, intel.wallets, intel.users CASCADE")
    db.execute("DELETE FROM intel.etl_checkpoints")
    sync_backend(db, batch_rows=4)
    assert snapshot(db) == crashed_then_rerun
    assert len(crashed_then_rerun["transactions"]) == 25


def test_bad_orders_are_rejected_with_a_reason_each(db: psycopg.Connection, market: Market) -> None:
    # Given one good order and four the features cannot use
    user = market.user()
    wallet = market.wallet(user)
    other_wallet = market.wallet(market.user())
    event_a, event_b = market.event(), market.event()
    good = market.order(market.ticket(event_a), wallet, at=T0)
    euro = market.order(market.ticket(event_a), wallet, at=T0, currency="EUR")
    fee = market.order(market.ticket(event_a), wallet, at=T0, price="10.00", fee="11.00")
    mismatch = market.order(market.ticket(event_a), wallet, at=T0, event_id=event_b)
    self_trade = market.order(market.ticket(event_a), other_wallet, at=T0, seller_wallet=other_wallet)
    # When the ETL runs twice
    stats = sync_backend(db)
    sync_backend(db, since=T0 - timedelta(days=365))
    # Then the good order is loaded and each bad one is in the rejects table once, with its reason
    loaded = [r[0] for r in db.execute("SELECT transaction_id FROM intel.transactions")]
    assert loaded == [good]
    rejects = dict(db.execute("SELECT natural_key, reason FROM intel.etl_rejects").fetchall())
    assert rejects == {
        euro: "unsupported_currency",
        fee: "fee_exceeds_price",
        mismatch: "event_does_not_match_ticket",
        self_trade: "buyer_is_seller",
    }
    assert stats.rejected == 4
    payload = db.execute("SELECT payload FROM intel.etl_rejects WHERE natural_key = %s", (euro,)).fetchone()[
        0
    ]
    assert payload["currency"] == "EUR" and payload["transaction_id"] == euro

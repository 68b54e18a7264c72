"""Issue 21 finding 2: a stored timestamp no reader can take (year 1 BC, year 10000) crashed every
`ticketguard etl` run ("timestamp too small"). Now such a row is quarantined in intel.etl_rejects
(`time_out_of_range`), a child of it too (its parent is not in intel), and the run goes on. A bad row
is planted in every marketplace table the ETL reads."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from shared.etl.backend import TABLES, sync_backend
from tests.fixtures.etl import IP_US, T0, Market, address

YEAR_1_BC = "0001-01-01T00:00:00+14:00"
YEAR_10000 = "9999-12-31T23:59:59-14:00"


def _plant(db: psycopg.Connection, market: Market) -> dict[str, set[tuple[str, str]]]:
    """Good rows, and in each table one row whose timestamp is out of range; the rejects expected."""
    user = market.user()
    wallet = market.wallet(user)
    event = market.event()
    market.order(market.ticket(event), wallet, at=T0)
    bad_user = market.user(created_at=T0)
    db.execute("UPDATE marketplace.users SET created_at = %s WHERE user_id = %s", (YEAR_1_BC, bad_user))
    orphan_wallet = market.wallet(bad_user)
    db.execute(
        "INSERT INTO marketplace.wallets (address, user_id, created_at) VALUES (%s, %s, %s)",
        (address(900), user, YEAR_10000),
    )
    bad_event = market.event()
    db.execute("UPDATE marketplace.events SET starts_at = %s WHERE event_id = %s", (YEAR_10000, bad_event))
    orphan_ticket = market.ticket(bad_event)
    bad_ticket = market.ticket(event)
    db.execute("UPDATE marketplace.tickets SET minted_at = %s WHERE ticket_id = %s", (YEAR_1_BC, bad_ticket))
    bad_order = market.order(market.ticket(event), wallet, at=T0 + timedelta(minutes=1))
    db.execute(
        "UPDATE marketplace.orders SET created_at = %s WHERE transaction_id = %s", (YEAR_1_BC, bad_order)
    )
    db.execute(
        "INSERT INTO marketplace.sessions (session_id, user_id, ip, user_agent, started_at)"
        " VALUES (1, %s, %s, 'ua', %s), (2, %s, %s, 'ua', %s)",
        (user, IP_US, T0, user, IP_US, YEAR_1_BC),
    )
    db.execute(
        "INSERT INTO marketplace.login_attempts (attempt_id, user_id, email, ip, success, attempted_at)"
        " VALUES (1, %s, 'a@example.com', %s, true, %s), (2, %s, 'a@example.com', %s, true, %s)",
        (user, IP_US, T0, user, IP_US, YEAR_10000),
    )
    out_of_range = "time_out_of_range"
    return {
        "backend.users": {(str(bad_user), out_of_range)},
        "backend.wallets": {(address(900), out_of_range), (orphan_wallet, "unknown_user")},
        "backend.events": {(str(bad_event), out_of_range)},
        "backend.tickets": {(str(bad_ticket), out_of_range), (str(orphan_ticket), "unknown_event")},
        "backend.orders": {(bad_order, out_of_range)},
        "backend.sessions": {("2", out_of_range)},
        "backend.login_attempts": {("2", out_of_range)},
    }


def test_given_a_bad_row_in_every_backend_table_when_the_etl_runs_then_each_is_quarantined_and_the_rest_loads(
    db: psycopg.Connection, market: Market
) -> None:
    expected = _plant(db, market)
    assert set(expected) == {f"backend.{spec.name}" for spec in TABLES}  # every table the ETL reads
    # When the ETL runs (twice: the second, a repair run over the same rows, changes nothing)
    stats = sync_backend(db)
    sync_backend(db, since=T0 - timedelta(days=3650))
    # Then it completed, each bad row (and each child of one) is quarantined with its reason
    rejects: dict[str, set[tuple[str, str]]] = {}
    for source, key, reason in db.execute("SELECT source, natural_key, reason FROM intel.etl_rejects"):
        rejects.setdefault(source, set()).add((key, reason))
    assert rejects == expected
    # and every good row is in intel
    assert stats.tables["orders"].written == 1 and stats.tables["sessions"].written == 1
    assert db.execute("SELECT count(*) FROM intel.users").fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM intel.login_attempts").fetchone() == (1,)
    # and the payload keeps what was read, the unreadable time named
    payload = db.execute(
        "SELECT payload->>'unreadable_times' FROM intel.etl_rejects WHERE source = 'backend.users'"
    ).fetchone()
    assert payload is not None and payload[0].startswith("created_at 0001-12-31") and "BC" in payload[0]

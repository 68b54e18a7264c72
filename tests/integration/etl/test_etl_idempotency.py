"""Idempotency of the ETL through its Lambda handler, as EventBridge runs it: a repair window read
twice, the daily repair re-read, and a chain reorganisation between two scheduled runs.

These are reruns the watermark does not make trivially empty: a repair run (`since`, or the daily
re-read of the last 26 hours) reads every row of its window again, so "nothing changed" rests on the
upsert itself (keys, and no rewrite of an unchanged row), and the chain run after a reorg must take
back what the orphaned blocks loaded. Every table of the intel schema is compared, row by row, with
each row's xmin: a rerun that rewrites a row with the same values shows as a changed xmin."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from functions.etl.handler import handler as etl_handler
from shared.chain.synthetic import SyntheticChain
from tests.fixtures.etl import IP_FR, IP_GB, IP_JP, T0, Market, address, new_chain
from tooling.local.gateway import LocalLambdaContext

WEI = 10**15  # 1 USD
# Columns that say when the ETL last wrote a row rather than what it holds.
VOLATILE = {"intel.etl_checkpoints": ("updated_at",)}


def _ts(at: datetime) -> int:
    return int(at.timestamp())


def _event(detail: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge scheduled event, as the rule delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-03-02T13:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }


def _run(detail: dict[str, Any]) -> dict[str, Any]:
    return etl_handler(_event(detail), LocalLambdaContext("etl", str(uuid.uuid4())))


def _tables(db: psycopg.Connection) -> list[str]:
    rows = db.execute(
        """SELECT table_schema || '.' || table_name FROM information_schema.tables
           WHERE table_schema = 'intel' AND table_type = 'BASE TABLE' ORDER BY 1"""
    ).fetchall()
    return [name for (name,) in rows]


def snapshot(db: psycopg.Connection) -> dict[str, list[tuple[str, str]]]:
    """Every intel table as sorted (xmin, row as JSON) pairs, the volatile columns left out."""
    state = {}
    for table in _tables(db):
        drop = "".join(f" - '{column}'" for column in VOLATILE.get(table, ()))
        rows = db.execute(f"SELECT t.xmin::text, (to_jsonb(t){drop})::text FROM {table} t").fetchall()
        state[table] = sorted(rows, key=lambda r: r[1])
    return state


def _assert_unchanged(
    before: dict[str, list[tuple[str, str]]], after: dict[str, list[tuple[str, str]]]
) -> None:
    counts = {table: (len(before[table]), len(after[table])) for table in before}
    assert {t: c for t, c in counts.items() if c[0] != c[1]} == {}, "row counts changed"
    for table in before:
        rows = [row for _, row in after[table]]
        assert len(rows) == len(set(rows)), f"{table} holds a duplicate row"
        assert after[table] == before[table], f"{table} was rewritten"


def _marketplace(db: psycopg.Connection, market: Market, chain: SyntheticChain) -> dict[str, Any]:
    """Three buyers, two events, primary sales and a resale, a rejected order, sessions and login
    attempts; the sales on the chain too, mined before T0 and buried under more than 6 blocks."""
    users = [market.user() for _ in range(3)]
    wallets = [market.wallet(user) for user in users]
    e1, e2 = market.event(capacity=10), market.event(capacity=4, face_value="100.00")
    tickets = [market.ticket(e1) for _ in range(4)] + [market.ticket(e2, face_value="100.00")]
    chain.create_event(e1, 10, 50 * WEI, at=_ts(T0 - timedelta(hours=40)))
    chain.create_event(e2, 4, 100 * WEI, at=_ts(T0 - timedelta(hours=40)))
    for ticket in tickets[:4]:
        chain.mint_batch(e1, ticket, 1, at=_ts(T0 - timedelta(hours=39)))
    chain.mint_batch(e2, tickets[4], 1, at=_ts(T0 - timedelta(hours=39)))
    sales = [
        (tickets[0], wallets[0], -30, IP_GB),
        (tickets[1], wallets[1], -20, IP_FR),
        (tickets[4], wallets[0], -10, IP_JP),
        (tickets[2], wallets[2], -5, IP_GB),
    ]
    for ticket, wallet, hours, ip in sales:
        price = "100.00" if ticket == tickets[4] else "50.00"
        market.order(ticket, wallet, at=T0 + timedelta(hours=hours), price=price, ip=ip)
        chain.buy_primary_for(ticket, wallet, int(float(price)) * WEI, at=_ts(T0 + timedelta(hours=hours)))
    chain.list_for(tickets[0], 70 * WEI, at=_ts(T0 - timedelta(hours=3)))
    market.order(
        tickets[0], wallets[1], at=T0 - timedelta(hours=2), price="70.00", seller_wallet=wallets[0], ip=IP_FR
    )
    chain.buy_resale_for(tickets[0], wallets[1], 70 * WEI, at=_ts(T0 - timedelta(hours=2)))
    market.order(tickets[3], wallets[2], at=T0 - timedelta(hours=1), currency="EUR")  # rejected
    for n, user in enumerate(users, start=1):
        db.execute(
            """INSERT INTO marketplace.sessions (session_id, user_id, ip, user_agent, started_at)
               VALUES (%s, %s, %s, 'Mozilla/5.0', %s)""",
            (100 + n, user, IP_GB, T0 - timedelta(hours=n)),
        )
        db.execute(
            """INSERT INTO marketplace.login_attempts (attempt_id, user_id, email, ip, success, failure_reason,
                   attempted_at) VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (200 + n, user, f"user{user}@example.com", IP_FR, n != 2, None if n != 2 else "bad_password", T0),
        )
    chain.advance_to(_ts(T0 + timedelta(minutes=10)))  # 50 blocks of 12 s past the last sale
    return {"wallets": wallets, "tickets": tickets}


@pytest.fixture
def etl_chain(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> SyntheticChain:
    """The chain the handler reads (as it would read the node at CHAIN_RPC_URL)."""
    import shared.etl.pipeline as pipeline

    chain = new_chain(T0 - timedelta(days=2))
    monkeypatch.setattr(pipeline, "default_log_source", lambda: chain)
    return chain


def test_given_a_loaded_window_when_the_handler_repairs_it_twice_then_every_table_is_unchanged(
    db: psycopg.Connection, market: Market, etl_chain: SyntheticChain
) -> None:
    # Given a marketplace and its chain loaded by the hourly run
    _marketplace(db, market, etl_chain)
    first = _run({"mode": "hourly"})
    assert first["rows_rejected"] == 1 and first["chain"]["rows_loaded"] > 0
    loaded = snapshot(db)
    assert all(loaded[t] for t in ("intel.transactions", "intel.chain_events", "intel.ticket_holds"))
    # When the handler re-reads a window holding every row, twice (a repair run, `since`)
    since = (T0 - timedelta(days=3)).isoformat()
    repairs = [_run({"mode": "hourly", "since": since}) for _ in range(2)]
    # Then each read every row again and wrote none: same rows, no duplicate, none rewritten
    for repair in repairs:
        assert repair["rows_read"] >= first["rows_read"] - first["chain"]["logs_read"]
        assert repair["rows_written"] == 0
    _assert_unchanged(loaded, snapshot(db))


def test_given_a_row_behind_the_watermark_when_the_daily_run_repairs_twice_then_loaded_once(
    db: psycopg.Connection, market: Market, etl_chain: SyntheticChain
) -> None:
    # Given everything loaded by the hourly run, then an order whose transaction committed late: its
    # updated_at is before the watermark the hourly run already moved past (inside the 26 h window)
    seeded = _marketplace(db, market, etl_chain)
    _run({"mode": "hourly"})
    late = market.order(seeded["tickets"][3], seeded["wallets"][2], at=T0 - timedelta(minutes=30))
    db.execute(
        """UPDATE marketplace.orders SET updated_at = (SELECT min(updated_at) FROM marketplace.orders)
               - interval '1 minute' WHERE transaction_id = %s""",
        (late,),
    )
    assert _run({"mode": "hourly"})["rows_read"] == 0  # the watermark is past it
    # When the daily run comes, and again (EventBridge retries a failed invocation)
    _run({"mode": "daily"})
    repaired = snapshot(db)
    _run({"mode": "daily"})
    # Then the first re-read loaded the late order, once, and the second changed nothing at all
    transactions = db.execute(
        "SELECT count(*) FROM intel.transactions WHERE transaction_id = %s", (late,)
    ).fetchone()
    assert transactions == (1,)
    _assert_unchanged(repaired, snapshot(db))


def _chain_rows(db: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "events": db.execute(
            "SELECT block_number, block_hash, tx_hash, log_index, event_name FROM intel.chain_events ORDER BY 1, 4"
        ).fetchall(),
        "holds": db.execute(
            "SELECT block_number, tx_hash, log_index, holder, hold_hours FROM intel.ticket_holds ORDER BY 1, 3"
        ).fetchall(),
        "first_seen": db.execute(
            "SELECT address, first_seen_at FROM intel.wallets WHERE first_seen_at IS NOT NULL ORDER BY 1"
        ).fetchall(),
    }


def test_given_loaded_blocks_when_the_chain_reorganises_then_the_next_scheduled_run_takes_them_back(
    db: psycopg.Connection, market: Market, etl_chain: SyntheticChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.config import get_settings

    # Given no confirmations required (so the run loads the head) and the marketplace loaded
    monkeypatch.setenv("TG_CHAIN_CONFIRMATIONS", "0")
    get_settings.cache_clear()
    seeded = _marketplace(db, market, etl_chain)
    newcomer = address(900)
    at = T0 + timedelta(minutes=20)
    etl_chain.list_for(seeded["tickets"][1], 70 * WEI, at=_ts(at - timedelta(minutes=5)))
    etl_chain.list_for(seeded["tickets"][2], 90 * WEI, at=_ts(at - timedelta(minutes=5)))
    orphan = etl_chain.buy_resale_for(seeded["tickets"][1], newcomer, 70 * WEI, at=_ts(at))
    _run({"mode": "hourly"})
    loaded = _chain_rows(db)
    assert orphan in {row[2] for row in loaded["events"]} and orphan in {row[1] for row in loaded["holds"]}
    assert db.execute("SELECT first_seen_at FROM intel.wallets WHERE address = %s", (newcomer,)).fetchone()
    # When the chain reorganises past the loaded head: the resale to the newcomer never happened,
    # another buyer's resale did, and the handler runs on its schedule
    depth = etl_chain.latest_block() - etl_chain.block_for_time(_ts(at)) + 1
    dropped = etl_chain.reorg(depth, drop_tx_hashes=[orphan])
    assert dropped == [orphan]
    winner = etl_chain.buy_resale_for(
        seeded["tickets"][2], seeded["wallets"][0], 90 * WEI, at=_ts(at + timedelta(minutes=5))
    )
    summary = _run({"mode": "hourly"})
    # Then the orphaned blocks are rolled back: no log, hold or first sighting of the orphan is left,
    # the winner is in, and every stored block hash is the chain's
    assert summary["chain"]["rolled_back_blocks"] > 0
    after = _chain_rows(db)
    hashes = {row[2] for row in after["events"]}
    assert orphan not in hashes and winner in hashes
    assert orphan not in {row[1] for row in after["holds"]}
    assert newcomer not in {row[0] for row in after["first_seen"]}
    for number, block_hash, *_ in after["events"]:
        assert etl_chain.block(number).hash == block_hash
    # And the result is what a fresh load of the reorganised chain gives
    db.execute("DELETE FROM intel.chain_events")
    db.execute("UPDATE intel.wallets SET first_seen_at = NULL")
    db.execute("DELETE FROM intel.etl_checkpoints WHERE job LIKE 'chain:%'")
    assert db.execute("SELECT count(*) FROM intel.etl_checkpoints WHERE job LIKE 'chain%'").fetchone() == (0,)
    _run({"mode": "hourly"})
    assert _chain_rows(db) == after
    # And a rerun with nothing new changes nothing
    settled = snapshot(db)
    assert _run({"mode": "hourly"})["rows_written"] == 0
    _assert_unchanged(settled, snapshot(db))

"""Materialized views: contents, segment rules, and a concurrent refresh that never blocks readers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from shared.etl.backend import sync_backend
from shared.etl.chain import sync_chain
from shared.kpis import refresh_views
from tests.fixtures.etl import CONTRACT, Market, new_chain

WEI = 10**15


def _recent_market(market: Market, now: datetime) -> dict[str, object]:
    vip, regular, casual = market.user(), market.user(), market.user()
    newcomer = market.user(created_at=now - timedelta(days=3))
    wallets = {u: market.wallet(u) for u in (vip, regular, casual, newcomer)}
    event = market.event(
        capacity=20, sale_starts_at=now - timedelta(days=30), starts_at=now + timedelta(days=30)
    )
    tickets = [market.ticket(event, minted_at=now - timedelta(days=20)) for _ in range(16)]
    at = now - timedelta(hours=5)
    for n in range(10):  # 10 purchases -> VIP
        market.order(tickets[n], wallets[vip], at=at + timedelta(minutes=n))
    for n in range(10, 13):  # 3 purchases -> Regular
        market.order(tickets[n], wallets[regular], at=at + timedelta(minutes=n))
    market.order(tickets[13], wallets[casual], at=at)
    market.order(tickets[14], wallets[newcomer], at=at)
    market.order(
        tickets[0], wallets[casual], at=now - timedelta(hours=1), price="75.00", seller_wallet=wallets[vip]
    )
    return {"event": event, "tickets": tickets, "wallets": wallets, "users": (vip, regular, casual, newcomer)}


def test_views_hold_hourly_kpis_event_analytics_and_segments(db: psycopg.Connection, market: Market) -> None:
    # Given recent activity and an open listing on chain at 90 USD (the cheapest) and one at 120 delisted
    now = datetime.now(UTC).replace(microsecond=0)
    built = _recent_market(market, now)
    sync_backend(db)
    tickets: list[int] = built["tickets"]  # type: ignore[assignment]
    holder = "0x" + "12" * 20
    chain = new_chain(now - timedelta(days=2))
    chain.create_event(built["event"], 20, 50 * WEI, at=int((now - timedelta(days=1)).timestamp()))  # type: ignore[arg-type]
    chain.mint_batch(built["event"], tickets[15], 1, at=int((now - timedelta(hours=20)).timestamp()))  # type: ignore[arg-type]
    chain.buy_primary_for(tickets[15], holder, 50 * WEI, at=int((now - timedelta(hours=19)).timestamp()))
    chain.list_for(tickets[15], 120 * WEI, at=int((now - timedelta(hours=18)).timestamp()))
    chain.delist_for(tickets[15], at=int((now - timedelta(hours=17)).timestamp()))
    chain.list_for(tickets[15], 90 * WEI, at=int((now - timedelta(hours=16)).timestamp()))
    sync_chain(db, chain, CONTRACT, confirmations=0)
    # When the views are refreshed
    summary = refresh_views(db)
    # Then kpi_hourly counts the 16 transactions by hour
    assert summary.refreshed == ["intel.kpi_hourly", "intel.event_analytics", "intel.user_segments"]
    assert db.execute("SELECT sum(total_transactions) FROM intel.kpi_hourly").fetchone() == (16,)
    # And event analytics: 15 sold of 20, one resale, floor = the open 90 USD listing
    row = db.execute(
        "SELECT tickets_sold, resale_count, floor_price, open_listings FROM intel.event_analytics WHERE event_id = %s",
        (built["event"],),
    ).fetchone()
    assert row == (15, 1, 90, 1)
    # And the segments follow the stated rules
    vip, regular, casual, newcomer = built["users"]  # type: ignore[misc]
    segments = dict(db.execute("SELECT user_id, segment FROM intel.user_segments").fetchall())
    assert segments == {vip: "VIP", regular: "Regular", casual: "Casual", newcomer: "New"}


def test_concurrent_refresh_does_not_block_a_reader(
    db: psycopg.Connection, market: Market, database_url: str
) -> None:
    # Given populated views and a reader inside a transaction that has read kpi_hourly
    now = datetime.now(UTC).replace(microsecond=0)
    built = _recent_market(market, now)
    sync_backend(db)
    refresh_views(db)
    with psycopg.connect(database_url) as reader, psycopg.connect(database_url) as refresher:
        reader.execute("SET lock_timeout = '2s'")
        before = reader.execute("SELECT sum(total_transactions) FROM intel.kpi_hourly").fetchone()
        assert before == (16,)
        # When new transactions arrive and a refresh runs while the reader's transaction is open
        wallets: dict[int, str] = built["wallets"]  # type: ignore[assignment]
        extra = market.ticket(built["event"])  # type: ignore[arg-type]
        market.order(extra, next(iter(wallets.values())), at=now - timedelta(minutes=30))
        sync_backend(db)
        refresher.execute("SET lock_timeout = '2s'")
        # (a plain REFRESH would need an ACCESS EXCLUSIVE lock and time out behind the reader)
        refresh_views(refresher)
        # Then the refresh completed, and while a second refresh is in flight the reader still reads
        refresher.autocommit = False
        refresher.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY intel.kpi_hourly")
        during = reader.execute("SELECT sum(total_transactions) FROM intel.kpi_hourly").fetchone()
        refresher.commit()
        reader.commit()
        after = reader.execute("SELECT sum(total_transactions) FROM intel.kpi_hourly").fetchone()
    assert during == (17,) and after == (17,)


def test_a_plain_refresh_would_block_the_reader(db: psycopg.Connection, database_url: str) -> None:
    # The control experiment that shows the test above can fail: without CONCURRENTLY, the refresh
    # waits for the reader's lock and gives up.
    with psycopg.connect(database_url) as reader, psycopg.connect(database_url) as refresher:
        reader.execute("SELECT count(*) FROM intel.kpi_hourly")
        refresher.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            refresher.execute("REFRESH MATERIALIZED VIEW intel.kpi_hourly")

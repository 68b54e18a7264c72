"""The signals beyond the ten features (shared/features/signals.py) against hand-computed values, with
rows placed just inside and just outside each window: a changed window or limit fails a case here.

Given a marketplace written by hand (the backend's tables, as ingest stores them: no ETL needed) and
a purchase at T0, when its signals are computed, then each is what the rows say it is."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from shared.features.definitions import SIGNAL_NAMES
from shared.features.realtime import (
    ScoringContext,
    compute_realtime_features,
    signals_from_row,
    signals_statement,
)
from shared.features.signals import signals_for
from tests.fixtures.etl import IP_DE, IP_GB, IP_JP, IP_US, T0, Market

SECOND = timedelta(seconds=1)


def session(db: psycopg.Connection, session_id: int, user_id: int, ip: str, agent: str, at: datetime) -> None:
    db.execute(
        "INSERT INTO marketplace.sessions (session_id, user_id, ip, user_agent, started_at) VALUES (%s, %s, %s, %s, %s)",
        (session_id, user_id, ip, agent, at),
    )


def failed_login(
    db: psycopg.Connection, attempt_id: int, user_id: int, at: datetime, *, ok: bool = False
) -> None:
    db.execute(
        "INSERT INTO marketplace.login_attempts (attempt_id, user_id, email, ip, success, failure_reason, attempted_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (attempt_id, user_id, f"u{user_id}@example.com", IP_JP, ok, None if ok else "bad_password", at),
    )


def test_account_takeover_traces(db: psycopg.Connection, market: Market) -> None:
    # Given an account registered 400 days ago, whose sessions of the 90 days before the last two
    # hours came from London in Firefox; one older session (just outside those 90 days) from Tokyo in
    # curl; and a session from Tokyo in curl two hours ago (just inside the recent window)
    victim = market.user(created_at=T0 - timedelta(days=400))
    wallet = market.wallet(victim, created_at=T0 - timedelta(days=399))
    recent_start = T0 - timedelta(hours=2)
    session(db, 1, victim, IP_GB, "Firefox", recent_start - SECOND)
    session(db, 2, victim, IP_JP, "curl", recent_start - timedelta(days=90) - SECOND)
    session(db, 3, victim, IP_JP, "curl", recent_start)
    # And failed logins at exactly 1 h before (in), 1 h and 1 s before (out), 5 min before (in), a
    # successful one 4 min before (not a failure)
    failed_login(db, 1, victim, T0 - timedelta(hours=1))
    failed_login(db, 2, victim, T0 - timedelta(hours=1) - SECOND)
    failed_login(db, 3, victim, T0 - timedelta(minutes=5))
    failed_login(db, 4, victim, T0 - timedelta(minutes=4), ok=True)
    ticket = market.ticket(market.event())
    # When a purchase from Tokyo is scored at T0
    values = signals_for(db, wallet=wallet, ticket=ticket, at=T0, fingerprint=None, ip=IP_JP)
    # Then the account is 400 days old, with 2 failed logins, a new device and a new IP
    assert values["account_age_days"] == pytest.approx(400.0)
    assert values["failed_logins_1h"] == 2.0
    assert values["new_device"] == 1.0
    assert values["new_ip"] == 1.0
    # And from London, the IP is one the account's history has
    assert signals_for(db, wallet=wallet, ticket=ticket, at=T0, fingerprint=None, ip=IP_GB)["new_ip"] == 0.0


def test_a_purchase_from_another_country_than_the_accounts(db: psycopg.Connection, market: Market) -> None:
    # Given an account registered in the US an hour ago (a card run's fresh account)
    user = market.user(country="US", created_at=T0 - timedelta(hours=1))
    wallet = market.wallet(user, created_at=T0 - timedelta(hours=1))
    ticket = market.ticket(market.event())

    def foreign(ip: str | None, buyer: str = wallet) -> float | None:
        return signals_for(db, wallet=buyer, ticket=ticket, at=T0, fingerprint=None, ip=ip)["foreign_ip"]

    # When it buys from Tokyo, from a US address, without an IP, and from an IP no database places
    # Then only Tokyo is foreign: an unknown IP never flags (as new_ip and geo_velocity_flag)
    assert foreign(IP_JP) == 1.0
    assert foreign(IP_US) == 0.0
    assert foreign(None) == 0.0
    assert foreign("10.0.0.1") == 0.0
    # And a wallet the marketplace has no account for has no country to compare with
    assert foreign(IP_JP, buyer="0x" + "ab" * 20) is None


def test_an_account_without_history_shows_nothing_new(db: psycopg.Connection, market: Market) -> None:
    # Given an account opened an hour ago with one session (no history before the recent window)
    user = market.user(created_at=T0 - timedelta(hours=1))
    wallet = market.wallet(user, created_at=T0 - timedelta(hours=1))
    session(db, 1, user, IP_JP, "curl", T0 - timedelta(minutes=30))
    # When its purchase is scored
    values = signals_for(
        db, wallet=wallet, ticket=market.ticket(market.event()), at=T0, fingerprint=None, ip=IP_JP
    )
    # Then nothing is "new" (there is nothing to differ from); its age is an hour
    assert (values["new_device"], values["new_ip"]) == (0.0, 0.0)
    assert values["account_age_days"] == pytest.approx(1 / 24)


def test_payment_instrument_velocity_and_sharing(db: psycopg.Connection, market: Market) -> None:
    # Given a wallet that paid (or tried: a declined order counts) with card-1 exactly 24 h before T0
    # (in), card-0 24 h and 1 s before (out), card-2 30 min before (declined)
    user = market.user(created_at=T0 - timedelta(hours=30))
    wallet = market.wallet(user, created_at=T0 - timedelta(hours=30))
    event = market.event()
    market.order(market.ticket(event), wallet, at=T0 - timedelta(hours=24), instrument="card-1")
    market.order(market.ticket(event), wallet, at=T0 - timedelta(hours=24) - SECOND, instrument="card-0")
    market.order(
        market.ticket(event), wallet, at=T0 - timedelta(minutes=30), instrument="card-2", status="failed"
    )
    # And card-S used by another wallet exactly 7 days before (in), by a third 7 days and 1 s before (out)
    other = market.wallet(market.user())
    third = market.wallet(market.user())
    market.order(market.ticket(event), other, at=T0 - timedelta(days=7), instrument="card-S")
    market.order(market.ticket(event), third, at=T0 - timedelta(days=7) - SECOND, instrument="card-S")
    ticket = market.ticket(event)
    # When the wallet pays with card-S now
    values = signals_for(db, wallet=wallet, ticket=ticket, at=T0, fingerprint="card-S", ip=IP_US)
    # Then it has paid with 3 instruments in 24 h (card-1, card-2, card-S), and card-S is one other wallet's
    assert values["payment_instruments_24h"] == 3.0
    assert values["instrument_wallets_7d"] == 1.0
    # And with card-1 again: 2 instruments, nobody else's card
    again = signals_for(db, wallet=wallet, ticket=ticket, at=T0, fingerprint="card-1", ip=IP_US)
    assert (again["payment_instruments_24h"], again["instrument_wallets_7d"]) == (2.0, 0.0)
    # And without a fingerprint: what the orders say, and the sharing is unknown
    unknown = signals_for(db, wallet=wallet, ticket=ticket, at=T0, fingerprint=None, ip=IP_US)
    assert (unknown["payment_instruments_24h"], unknown["instrument_wallets_7d"]) == (2.0, None)


def _ring(market: Market, size: int, first_at: datetime) -> tuple[list[str], int]:
    """`size` wallets passing one ticket around: w0 buys it first, then w1 from w0, ... w(size-1)."""
    wallets = [market.wallet(market.user()) for _ in range(size)]
    ticket = market.ticket(market.event())
    market.order(ticket, wallets[0], at=first_at, instrument="crypto")
    for i in range(1, size):
        market.order(
            ticket,
            wallets[i],
            at=first_at + timedelta(hours=i),
            seller_wallet=wallets[i - 1],
            instrument="crypto",
        )
    return wallets, ticket


def test_a_resale_that_closes_a_ring_of_up_to_four_wallets(db: psycopg.Connection, market: Market) -> None:
    # Given rings of 2, 3, 4 and 5 wallets, the first edge of the 4-ring exactly 30 days before T0
    lengths = {}
    for size, first in ((2, T0 - timedelta(hours=5)), (3, T0 - timedelta(hours=5)),
                        (4, T0 - timedelta(days=30) - timedelta(hours=1)), (5, T0 - timedelta(hours=6))):  # fmt: skip
        wallets, ticket = _ring(market, size, first)
        # When the ring's first wallet buys the ticket back from the last at T0
        lengths[size] = signals_for(db, wallet=wallets[0], ticket=ticket, at=T0, fingerprint=None, ip=None)[
            "resale_cycle_length"
        ]
    # Then the purchase closes a cycle of 2, 3 and 4 wallets; a 5-wallet cycle is beyond the limit
    assert lengths == {2: 2.0, 3: 3.0, 4: 4.0, 5: 0.0}
    # And an edge 30 days and 1 s old is outside the window
    wallets, ticket = _ring(market, 2, T0 - timedelta(days=30) - timedelta(hours=1) - SECOND)
    assert (
        signals_for(db, wallet=wallets[0], ticket=ticket, at=T0, fingerprint=None, ip=None)[
            "resale_cycle_length"
        ]
        == 0.0
    )
    # And a resale between strangers closes nothing
    seller, buyer = market.wallet(market.user()), market.wallet(market.user())
    ticket = market.ticket(market.event())
    market.order(ticket, seller, at=T0 - timedelta(days=1), ip=IP_DE)
    assert (
        signals_for(db, wallet=buyer, ticket=ticket, at=T0, fingerprint=None, ip=None)["resale_cycle_length"]
        == 0.0
    )


def _account_with_a_failed_login(db: psycopg.Connection, market: Market) -> tuple[str, int]:
    """(wallet, a ticket to buy) of a 10-day-old account that failed a login ten minutes before T0."""
    user = market.user(created_at=T0 - timedelta(days=10))
    wallet = market.wallet(user, created_at=T0 - timedelta(days=10))
    failed_login(db, 1, user, T0 - timedelta(minutes=10))
    return wallet, market.ticket(market.event())


def test_the_scoring_path_serves_the_same_signals(
    db: psycopg.Connection, market: Market, database_url: str
) -> None:
    # Given an account with a failed login ten minutes before T0 and a card used in the hour before
    wallet, ticket = _account_with_a_failed_login(db, market)
    market.order(market.ticket(market.event()), wallet, at=T0 - timedelta(minutes=50), instrument="card-A")
    # When the scoring path computes its features (Redis off) with a fingerprint
    with ConnectionPool(database_url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
        served = compute_realtime_features(
            ScoringContext(wallet, ticket, 50.0, IP_US, T0, payment_fingerprint="card-B"),
            redis=None,
            pool=pool,
        )
    # Then its signals are those of the query the training set runs
    expected = signals_for(db, wallet=wallet, ticket=ticket, at=T0, fingerprint="card-B", ip=IP_US)
    assert {name: served.values[name] for name in SIGNAL_NAMES} == expected
    assert expected["failed_logins_1h"] == 1.0 and expected["payment_instruments_24h"] == 2.0


def test_signals_pipelined_beside_another_statement_are_the_same(
    db: psycopg.Connection, market: Market, database_url: str
) -> None:
    # Given an account with a failed login ten minutes before T0 (as above)
    wallet, ticket = _account_with_a_failed_login(db, market)
    context = ScoringContext(wallet, ticket, 50.0, IP_US, T0, payment_fingerprint="card-B")
    # When the signals' statement is sent in a pipeline beside another (what the admission lookup does)
    with ConnectionPool(database_url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
        with pool.connection() as conn:
            with conn.pipeline():
                other = conn.execute("SELECT 1")
                statement, params = signals_statement(context)
                cursor = conn.execute(statement, params)
            row = cursor.fetchone()
            assert other.fetchone() == (1,) and row is not None
        served = compute_realtime_features(
            context, redis=None, pool=pool, signals=signals_from_row(context, row)
        )
    # Then the features hold the signals of the standalone query
    expected = signals_for(db, wallet=wallet, ticket=ticket, at=T0, fingerprint="card-B", ip=IP_US)
    assert {name: served.values[name] for name in SIGNAL_NAMES} == expected
    assert expected["failed_logins_1h"] == 1.0

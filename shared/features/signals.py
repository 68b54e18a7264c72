"""The signals beyond the spec's ten features (issue 23): what the four frauds leave in the records a
marketplace keeps, exact at the purchase's time t, from the backend's own tables as ingest stores them
(marketplace.orders, .sessions, .login_attempts, .users, .wallets: written as the facts arrive, not
an hour later by the ETL) and the scoring request's optional `payment_fingerprint`.

| signal                  | what it is (t = the purchase's time)                                        | the fraud |
|-------------------------|------------------------------------------------------------------------------|-----------|
| account_age_days        | days since the wallet's account registered; None without an account          | new accounts (bots, card runs) |
| payment_instruments_24h | distinct instruments the wallet paid (or tried) with in [t-24h, t), plus this one | stolen cards |
| instrument_wallets_7d   | other wallets that paid with this purchase's instrument in [t-7d, t); None without one | shared cards (scalpers) |
| failed_logins_1h        | failed logins of the account in [t-1h, t); None without an account           | account takeover |
| new_device              | the account's session of the last 2 h uses a user agent none of its sessions of the 90 days before had | account takeover |
| new_ip                  | the buyer IP is none of the IPs of the account's sessions of those 90 days   | account takeover |
| resale_cycle_length     | wallets on the closed cycle this resale makes with earlier resales of 30 days (2-4), else 0 | wash-trading rings |
| foreign_ip              | the buyer IP geolocates (shared.geo) to another country than the account's registered one; 0 for an unknown IP, None without an account | card runs through proxies, takeovers |

The seller of a resale is the ticket's last buyer before t (its last order that did not fail), so
scoring needs nothing beyond the request. The query is a PL/pgSQL function, `intel.purchase_signals`
(migration 0710): PostgreSQL keeps its plan per server connection, through any pooler, where the query sent
as text was parsed and planned again on every request (issue 29). Training computes each row with this same
function (shared.features.training), so the two cannot disagree on a formula. The formulas' arithmetic lives in
shared.features.formulas; the windows are its constants.

Why daily snapshots are not enough here: a card run or a takeover lasts minutes (payment_method_diversity,
a daily snapshot, is 0 for every stolen-card purchase), and PageRank gives a closed ring of 3-5
wallets nothing (a cycle keeps its rank to itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from shared.errors import DependencyUnavailable
from shared.features import formulas
from shared.features.definitions import SIGNAL_NAMES
from shared.geo import default_geolocator

SIGNALS_SQL = """
SELECT * FROM intel.purchase_signals(
    %(wallet)s::text, %(ticket)s::bigint, %(ticket_text)s::text, %(at)s::timestamptz, %(fingerprint)s::text,
    %(ip)s::inet, %(recent)s::interval, %(history)s::interval, %(ring)s::interval, %(max_hops)s::integer,
    %(pay)s::interval, %(shared)s::interval, %(logins)s::interval)
"""


def _params(
    wallet: str,
    ticket: int | None,
    ticket_text: str | None,
    at: datetime,
    fingerprint: str | None,
    ip: str | None,
) -> dict[str, Any]:
    return {
        "wallet": wallet,
        "ticket": ticket,
        "ticket_text": ticket_text,
        "at": at,
        "fingerprint": fingerprint,
        "ip": ip,
        "recent": formulas.RECENT_SESSION_WINDOW,
        "history": formulas.ACCOUNT_HISTORY_WINDOW,
        "ring": formulas.RING_WINDOW,
        "max_hops": formulas.RING_MAX_LENGTH - 1,
        "pay": formulas.PAYMENT_VELOCITY_WINDOW,
        "shared": formulas.SHARED_INSTRUMENT_WINDOW,
        "logins": formulas.FAILED_LOGIN_WINDOW,
    }


def signal_values(row: tuple[Any, ...], at: datetime, ip: str | None) -> dict[str, float | None]:
    """SIGNALS_SQL's row (and the buyer IP) as the signals' values (SIGNAL_NAMES)."""
    (
        user_id,
        registered_at,
        instruments,
        shared,
        failed,
        has_history,
        device_seen,
        ip_seen,
        hops,
        country,
    ) = row
    account = user_id is not None
    values: dict[str, float | None] = {
        "account_age_days": formulas.account_age_days(registered_at, at) if account else None,
        "payment_instruments_24h": float(instruments),
        "instrument_wallets_7d": None if shared is None else float(shared),
        "failed_logins_1h": float(failed) if account else None,
        "new_device": formulas.novelty_flag(bool(has_history), device_seen) if account else None,
        "new_ip": formulas.novelty_flag(bool(has_history), ip_seen) if account else None,
        "resale_cycle_length": formulas.cycle_length(hops),
        "foreign_ip": formulas.foreign_ip_flag(country, default_geolocator().locate(ip).country),
    }
    assert tuple(values) == SIGNAL_NAMES
    return values


def signals_params(
    *, wallet: str, ticket: int | str, at: datetime, fingerprint: str | None, ip: str | None
) -> dict[str, Any]:
    """SIGNALS_SQL's parameters for one purchase (a caller may send it beside its own statement)."""
    return _params(
        wallet,
        ticket if isinstance(ticket, int) else None,
        ticket if isinstance(ticket, str) else None,
        at,
        fingerprint,
        ip,
    )


def signals_for(
    conn: psycopg.Connection[Any],
    *,
    wallet: str,
    ticket: int | str,
    at: datetime,
    fingerprint: str | None,
    ip: str | None,
) -> dict[str, float | None]:
    """The signals of one purchase (one query)."""
    params = signals_params(wallet=wallet, ticket=ticket, at=at, fingerprint=fingerprint, ip=ip)
    row = conn.execute(SIGNALS_SQL, params).fetchone()
    assert row is not None  # a SELECT without FROM: always one row
    return signal_values(row, at, ip)


def signals_from_pool(
    pool: Any, *, wallet: str, ticket: int | str, at: datetime, fingerprint: str | None, ip: str | None
) -> dict[str, float | None]:
    """signals_for on a pooled connection; DependencyUnavailable when PostgreSQL does not answer."""
    try:
        with pool.connection() as conn:
            return signals_for(conn, wallet=wallet, ticket=ticket, at=at, fingerprint=fingerprint, ip=ip)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DependencyUnavailable("the feature store (PostgreSQL) is unavailable") from exc


def missing_signals(
    account_known: bool, fingerprint: str | None, values: Mapping[str, float | None]
) -> list[str]:
    """The signals missing because what they describe is not known (no account, no instrument)."""
    names = [] if fingerprint is not None else ["instrument_wallets_7d"]
    if not account_known:
        names += ["account_age_days", "failed_logins_1h", "new_device", "new_ip", "foreign_ip"]
    return [name for name in names if values.get(name) is None]

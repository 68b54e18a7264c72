"""IP blocklists as networks in PostgreSQL and through the scoring service (issue 21, item 4): every
spelling of a blocklisted IPv4 address is blocked, whichever spelling the entry was written in; an
IPv6 entry blocks its /64 (what the IP limit counts) or the CIDR given with it; the database's
canonical form (intel.canonical_ip_entry, run by a trigger on every write) and Python's
(shared.identifiers.canonical_ip_entry) agree, as a property."""

from __future__ import annotations

import ipaddress

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.api.models import Decision, PredictRequest, Reason
from shared.identifiers import canonical_ip_entry
from shared.scoring.service import score_transaction
from tests.fixtures.api import Market
from tests.unit.test_ip_networks import ipv4s, plain_ipv6s, spellings

DB_PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _block(db: psycopg.Connection, entry: str) -> None:
    db.execute(
        "INSERT INTO intel.blocklist (kind, value, reason, source) VALUES ('ip', %s, 'abuse', 'soar')"
        " ON CONFLICT DO NOTHING",
        (entry,),
    )


def _decided(market: Market, txn: str, ip: str) -> tuple[Decision, Reason]:
    request = PredictRequest(
        transaction_id=txn,
        wallet_address=market.honest_wallet,
        ticket_id=market.ticket_ids[0],
        price_paid=80.0,
    )
    response = score_transaction(request, client_ip=ip)
    return response.decision, response.reason


@pytest.fixture
def scoring(db: psycopg.Connection, redis_url: str, api_market: Market, api_state: None) -> Market:
    return api_market


@DB_PROPERTY
@given(ipv4s, st.integers(min_value=0, max_value=2**80 - 1))
def test_the_database_and_python_write_every_spelling_of_an_ipv4_address_alike(
    db: psycopg.Connection, v4: ipaddress.IPv4Address, low: int
) -> None:
    for spelling in spellings(v4, low):
        [(stored,)] = db.execute("SELECT intel.canonical_ip_entry(%s)", (spelling,)).fetchall()
        assert stored == canonical_ip_entry(spelling) == f"{v4}/32", spelling


@DB_PROPERTY
@given(plain_ipv6s, st.one_of(st.none(), st.integers(min_value=0, max_value=128)))
def test_the_database_and_python_write_ipv6_entries_alike(
    db: psycopg.Connection, address: ipaddress.IPv6Address, bits: int | None
) -> None:
    entry = address.compressed if bits is None else f"{address}/{bits}"
    [(stored,)] = db.execute("SELECT intel.canonical_ip_entry(%s)", (entry,)).fetchall()
    # The same network (the text of a network inside ::/96 may be spelled with a dotted quad)
    assert ipaddress.ip_network(stored) == ipaddress.ip_network(canonical_ip_entry(entry)), entry


@pytest.mark.parametrize(
    "spelling",
    [
        "::ffff:198.51.100.77",
        "::198.51.100.77",
        "2002:c633:644d::1",
        "2002:c633:644d:7::",
        "64:ff9b::198.51.100.77",
    ],
)
def test_given_a_blocklisted_ipv4_address_when_it_comes_inside_ipv6_then_blocked(
    scoring: Market, db: psycopg.Connection, spelling: str
) -> None:
    # Given 198.51.100.77 on the blocklist
    _block(db, "198.51.100.77")
    # When a purchase comes from one of its IPv6 spellings (mapped, compatible, 6to4, NAT64)
    # Then it is blocked by the IP blocklist
    assert _decided(scoring, "bl-v4-in-v6", spelling) == (Decision.BLOCKED, Reason.BLOCKLIST_IP)


@pytest.mark.parametrize("entry", ["2002:c633:644d::", "64:ff9b::c633:644d", "::198.51.100.77"])
def test_given_an_entry_written_inside_ipv6_when_the_plain_ipv4_address_buys_then_blocked(
    scoring: Market, db: psycopg.Connection, entry: str
) -> None:
    # Given the entry written in an IPv6 spelling (an analyst's SQL): it is stored as the IPv4 address
    _block(db, entry)
    assert db.execute("SELECT value FROM intel.blocklist WHERE kind = 'ip'").fetchall() == [
        ("198.51.100.77/32",)
    ]
    # When the plain IPv4 address buys, Then it is blocked
    assert _decided(scoring, "bl-v6-entry", "198.51.100.77") == (Decision.BLOCKED, Reason.BLOCKLIST_IP)


def test_given_an_ipv6_entry_when_another_address_of_its_64_buys_then_blocked_and_the_next_64_is_not(
    scoring: Market, db: psycopg.Connection
) -> None:
    # Given one IPv6 address on the blocklist
    _block(db, "2001:db8:1:2::5")
    # When another address of the same /64 (the IP limit's subject) buys, Then it is blocked
    assert _decided(scoring, "bl-v6-same-64", "2001:db8:1:2:ffff:1:2:3") == (
        Decision.BLOCKED,
        Reason.BLOCKLIST_IP,
    )
    # And an address of the next /64 is decided by the model
    assert _decided(scoring, "bl-v6-next-64", "2001:db8:1:3::5")[1] is Reason.MODEL


@pytest.mark.parametrize(
    ("entry", "inside", "outside"),
    [
        ("203.0.113.0/24", "203.0.113.200", "203.0.114.1"),
        ("2001:db8:aa::/48", "2001:db8:aa:ff::1", "2001:db8:ab::1"),
    ],
)
def test_given_a_cidr_entry_then_every_address_inside_is_blocked(
    scoring: Market, db: psycopg.Connection, entry: str, inside: str, outside: str
) -> None:
    _block(db, entry)
    assert _decided(scoring, "bl-cidr-in", inside) == (Decision.BLOCKED, Reason.BLOCKLIST_IP)
    assert _decided(scoring, "bl-cidr-out", outside)[1] is Reason.MODEL


def test_two_spellings_of_one_address_are_one_entry_and_a_malformed_one_is_refused(
    db: psycopg.Connection,
) -> None:
    _block(db, "198.51.100.77")
    _block(db, "::ffff:198.51.100.77")  # the same key once canonical: ON CONFLICT DO NOTHING
    assert db.execute("SELECT count(*) FROM intel.blocklist WHERE kind = 'ip'").fetchone() == (1,)
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        _block(db, "198.51.100.300")

"""Blocklists as networks, consistent with the limits (issue 21, item 4), as properties of the one
canonical form (shared/identifiers.py): every spelling of an IPv4 address inside IPv6 is that IPv4
address, for the rate limit and the blocklist alike; an IPv6 address counts and is listed as its /64."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.identifiers import canonical_ip, canonical_ip_entry, ip_limit_subject

ipv4s = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)
# Addresses that carry no IPv4 address: outside ::/96, ::ffff:0:0/96, 64:ff9b::/96 and 2002::/16.
plain_ipv6s = (
    st.integers(min_value=2**96, max_value=2**128 - 1)
    .map(ipaddress.IPv6Address)
    .filter(
        lambda a: (
            a not in ipaddress.IPv6Network("::ffff:0:0/96")
            and a not in ipaddress.IPv6Network("64:ff9b::/96")
            and a not in ipaddress.IPv6Network("2002::/16")
        )
    )
)


def spellings(v4: ipaddress.IPv4Address, low: int) -> list[str]:
    """Every textual form of `v4` inside IPv6 (`low`: the 6to4 site's free 80 bits)."""
    n = int(v4)
    mapped = ipaddress.IPv6Address((0xFFFF << 32) | n)
    nat64 = ipaddress.IPv6Address((0x64FF9B << 96) | n)
    six_to_four = ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | low)
    forms = [
        f"::ffff:{v4}",
        mapped.exploded,
        mapped.compressed,
        f"64:ff9b::{v4}",
        nat64.compressed,
        six_to_four.compressed,
        six_to_four.exploded,
    ]
    if n > 1:  # :: and ::1 are the unspecified and loopback addresses, not IPv4-compatible ones
        forms += [f"::{v4}", ipaddress.IPv6Address(n).compressed]
    return forms


@settings(deadline=None)  # a loaded machine's pauses are not the property's business
@given(ipv4s, st.integers(min_value=0, max_value=2**80 - 1))
def test_every_spelling_of_an_ipv4_address_is_that_address_for_limits_and_lists(
    v4: ipaddress.IPv4Address, low: int
) -> None:
    for spelling in spellings(v4, low):
        # The request's address, the IP limit's subject and a blocklist entry written in that spelling
        assert canonical_ip(spelling) == str(v4), spelling
        assert ip_limit_subject(canonical_ip(spelling)) == str(v4), spelling
        assert canonical_ip_entry(spelling) == f"{v4}/32", spelling


@settings(deadline=None)  # a loaded machine's pauses are not the property's business
@given(plain_ipv6s, st.integers(min_value=0, max_value=2**64 - 1))
def test_an_ipv6_entry_covers_exactly_the_64_the_limit_counts(
    entry: ipaddress.IPv6Address, other: int
) -> None:
    network = ipaddress.ip_network(canonical_ip_entry(entry.compressed))
    # Any address of the entry's /64 is in the listed network, and is the same rate-limit subject
    neighbour = ipaddress.IPv6Address((int(entry) & ~(2**64 - 1)) | other)
    assert neighbour in network
    assert ip_limit_subject(canonical_ip(neighbour.compressed)) == network.compressed
    # And an address of another /64 is in neither
    outside = ipaddress.IPv6Address(int(entry) ^ (1 << 64))
    assert outside not in network
    assert ip_limit_subject(canonical_ip(outside.compressed)) != network.compressed


@settings(deadline=None)  # a loaded machine's pauses are not the property's business
@given(plain_ipv6s, st.integers(min_value=16, max_value=128))
def test_a_cidr_given_with_an_ipv6_entry_is_kept(entry: ipaddress.IPv6Address, bits: int) -> None:
    given_network = ipaddress.IPv6Network((entry, bits), strict=False)
    if given_network.network_address in ipaddress.IPv6Network("2002::/16"):
        return  # a 6to4 range: the IPv4 prefix it fixes (the property above)
    assert canonical_ip_entry(f"{entry}/{bits}") == given_network.compressed


@settings(deadline=None)  # a loaded machine's pauses are not the property's business
@given(ipv4s, st.integers(min_value=0, max_value=32))
def test_an_ipv4_prefix_written_inside_ipv6_is_the_same_ipv4_prefix(
    v4: ipaddress.IPv4Address, bits: int
) -> None:
    v4_network = ipaddress.IPv4Network((v4, bits), strict=False)
    n = int(v4_network.network_address)
    assert canonical_ip_entry(f"::ffff:{v4_network.network_address}/{96 + bits}") == v4_network.compressed
    assert canonical_ip_entry(f"64:ff9b::{v4_network.network_address}/{96 + bits}") == v4_network.compressed
    six_to_four = ipaddress.IPv6Network(((0x2002 << 112) | (n << 80), 16 + bits))
    assert canonical_ip_entry(six_to_four.compressed) == v4_network.compressed


def test_loopback_and_unspecified_ipv6_are_not_ipv4_compatible_addresses() -> None:
    assert canonical_ip("::1") == "::1"
    assert canonical_ip("::") == "::"

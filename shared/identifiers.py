"""The identifiers that key a list, a limit or a feature: each one validated to its exact canonical
form and canonicalized once, at the edge, so that two spellings of one thing never become two keys.

Every pattern here is applied with `fullmatch`: `re.match` with `^...$` lets a final newline through
(`$` also matches before a trailing `\\n`), which once let `"<wallet>\\n"` past the wallet blocklist
and doubled the per-wallet purchase limit. Nothing is stripped: surrounding whitespace is refused,
not silently trimmed, so the caller learns that its identifier is malformed.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

# The zero address: the `from` of a mint, the `to` of a burn (ERC-721).
ZERO_ADDRESS = "0x" + "0" * 40

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
TRANSACTION_ID_PATTERN = r"[A-Za-z0-9_.:-]{1,128}"
_TRANSACTION_ID = re.compile(TRANSACTION_ID_PATTERN)

# One rate-limit subject for every client IP that is missing or does not parse: such requests share
# one bucket of the IP limit instead of escaping it.
UNPARSED_IP_SUBJECT = "unparsed"
# An IPv6 subscriber usually holds a whole /64 and can rotate through it freely: the IP limit counts
# the /64, as it counts one IPv4 address.
IPV6_LIMIT_PREFIX = 64


def canonical_wallet(value: object) -> str:
    """The lowercase form of a 20-byte hex address given all lowercase or with a valid EIP-55
    checksum; ValueError for anything else."""
    if not isinstance(value, str) or _HEX_ADDRESS.fullmatch(value) is None:
        raise ValueError("must be a 0x-prefixed 20-byte hex address (40 hex digits, nothing around it)")
    body = value[2:]
    if body != body.lower():
        from eth_utils import is_checksum_address  # keccak; only paid for mixed-case input

        if not is_checksum_address(value):
            raise ValueError("mixed-case address with an invalid EIP-55 checksum")
    return value.lower()


def canonical_transaction_id(value: object) -> str:
    """A transaction id, or any other id the marketplace gives us as text (ticket, user)."""
    if not isinstance(value, str) or _TRANSACTION_ID.fullmatch(value) is None:
        raise ValueError("must be 1-128 characters of A-Z a-z 0-9 _ . : - (nothing around them)")
    return value


canonical_marketplace_id = canonical_transaction_id


def canonical_ip(value: object) -> str | None:
    """The canonical text of an IP address, or None when `value` is not one.

    An IPv4 address inside IPv6, in any of its spellings (`embedded_ipv4`), is that IPv4 address, and an
    IPv6 zone (`%eth0`) is dropped, so that a blocklisted or rate-limited address cannot come back in
    another spelling."""
    if not isinstance(value, str):
        return None
    return _canonical_ip_text(value)


# Memoized: one scoring request asks for the same client IP's canonical form six times (the request,
# the limiter, the traffic counts ...), each a parse by ipaddress (make bench-api --profile, issue 29).
# Bounded, so a stream of distinct addresses only evicts; the function is pure, so a hit is identical.
@lru_cache(maxsize=4096)
def _canonical_ip_text(value: str) -> str | None:
    if not value or value != value.strip():
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            address = ipaddress.IPv6Address(address.compressed.split("%", 1)[0])
        inner = embedded_ipv4(address)
        if inner is not None:
            return inner.compressed
    return address.compressed


# The IPv6 ranges whose addresses carry an IPv4 address, and where its 32 bits start.
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated (RFC 4291), still parsed and routed
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")  # RFC 3056: 2002:AABB:CCDD::/48 is a.b.c.d's site


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, IPv4-compatible except :: and ::1, the
    NAT64 well-known prefix, 6to4), or None. The same rule as intel.canonical_ip_entry in SQL."""
    value = int(address)
    if address in _IPV4_MAPPED or address in _NAT64_WELL_KNOWN or (address in _IPV4_COMPATIBLE and value > 1):
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF)
    return None


def canonical_ip_entry(value: str) -> str:
    """An IP blocklist entry as stored (the mirror of intel.canonical_ip_entry, which every write runs):
    an IPv4 network; an IPv4 address inside IPv6 as that IPv4 address (a prefix over its bits as the
    IPv4 prefix they fix); an IPv6 address as its /64 (what the IP limit counts); a CIDR as given
    (its network). ValueError for anything else."""
    network = ipaddress.ip_network(value, strict=False)
    if isinstance(network, ipaddress.IPv4Network):
        return network.compressed
    base, bits = network.network_address, network.prefixlen
    for prefix in (_IPV4_MAPPED, _NAT64_WELL_KNOWN, _IPV4_COMPATIBLE):
        if bits >= 96 and base in prefix and (prefix is not _IPV4_COMPATIBLE or int(base) > 1):
            return ipaddress.IPv4Network((int(base) & 0xFFFFFFFF, bits - 96)).compressed
    if bits >= 16 and base in _SIX_TO_FOUR:
        return ipaddress.IPv4Network(
            ((int(base) >> 80) & 0xFFFFFFFF, min(bits - 16, 32)), strict=False
        ).compressed
    if "/" not in value:
        return ipaddress.IPv6Network((base, IPV6_LIMIT_PREFIX), strict=False).compressed
    return network.compressed


@lru_cache(maxsize=4096)  # pure, asked twice a scoring request (the limit and the traffic counts)
def ip_limit_subject(canonical: str | None) -> str:
    """What the IP limit counts for a client: the address (IPv4), its /64 (IPv6), or the shared
    `unparsed` subject when there is no usable address. Never empty: no input switches the limit off."""
    if canonical is None:
        return UNPARSED_IP_SUBJECT
    address = ipaddress.ip_address(canonical)
    if isinstance(address, ipaddress.IPv6Address):
        return ipaddress.IPv6Network((address, IPV6_LIMIT_PREFIX), strict=False).compressed
    return canonical

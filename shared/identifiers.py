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

    IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 address it carries and an IPv6 zone (`%eth0`) is
    dropped, so that a blocklisted address cannot come back in another spelling."""
    if not isinstance(value, str) or not value or value != value.strip():
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped.compressed
        if address.scope_id is not None:
            return ipaddress.IPv6Address(address.compressed.split("%", 1)[0]).compressed
    return address.compressed


def ip_limit_subject(canonical: str | None) -> str:
    """What the IP limit counts for a client: the address (IPv4), its /64 (IPv6), or the shared
    `unparsed` subject when there is no usable address. Never empty: no input switches the limit off."""
    if canonical is None:
        return UNPARSED_IP_SUBJECT
    address = ipaddress.ip_address(canonical)
    if isinstance(address, ipaddress.IPv6Address):
        return ipaddress.IPv6Network((address, IPV6_LIMIT_PREFIX), strict=False).compressed
    return canonical

"""One filter for personal data in logs (spec threat 5): emails, IPv4/IPv6 addresses, wallets."""

from __future__ import annotations

import hashlib
import ipaddress
import re

from shared.config import get_settings

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_WALLET = re.compile(r"\b0x[0-9a-fA-F]{40}\b")
_IPV4 = re.compile(r"\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b")
# Candidates only; ipaddress decides, so "12:30:45" in a timestamp is left alone.
_IPV6_CANDIDATE = re.compile(
    r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![\w:])"
)


def pseudonym(kind: str, value: str) -> str:
    """Stable, salted, non-reversible stand-in for a personal value: `<kind:1a2b3c4d>`."""
    digest = hashlib.sha256(f"{get_settings().log_pii_salt}:{value.lower()}".encode()).hexdigest()
    return f"<{kind}:{digest[:10]}>"


def redact(text: str) -> str:
    # Wallets first: a 40-hex-digit address must not be half-eaten by the IPv6 pattern.
    text = _WALLET.sub(lambda m: pseudonym("wallet", m.group(0)), text)
    text = _EMAIL.sub(lambda m: pseudonym("email", m.group(0)), text)
    text = _IPV4.sub(lambda m: pseudonym("ip", m.group(0)), text)
    return _IPV6_CANDIDATE.sub(_ipv6_or_same, text)


def _ipv6_or_same(match: re.Match[str]) -> str:
    candidate = match.group(0)
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return candidate
    return pseudonym("ip", candidate)

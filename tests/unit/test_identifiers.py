"""Issue 12: every identifier that keys a list, a limit or a feature is accepted only in its exact
form and canonicalized once; no unparsable input switches a limit off. Properties, not examples."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.api.models import MetricsQuery, PredictRequest
from shared.identifiers import (
    UNPARSED_IP_SUBJECT,
    canonical_ip,
    canonical_transaction_id,
    canonical_wallet,
    ip_limit_subject,
)
from shared.ratelimit.limiter import PREDICT_ROUTE, RateLimiter, RateLimitSettings, default_rules

WALLET = "0x" + "ab" * 20
CHECKSUMMED = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e"
HEX = "0123456789abcdefABCDEF"
AFFIXES = st.text(min_size=1, max_size=3).filter(lambda t: t != "")
hex_wallets = st.text(alphabet=HEX, min_size=40, max_size=40).map(lambda body: "0x" + body)
near_wallets = st.one_of(
    hex_wallets,
    st.builds(lambda w, a: w + a, hex_wallets, AFFIXES),
    st.builds(lambda a, w: a + w, AFFIXES, hex_wallets),
    st.text(max_size=50),
)


def _body(**overrides: object) -> dict[str, object]:
    return {
        "transaction_id": "t-1",
        "wallet_address": WALLET,
        "ticket_id": 1,
        "price_paid": 10.0,
        **overrides,
    }


@pytest.mark.parametrize("affix", ["\n", "\r\n", " ", "\t", "\x00", "\u00a0"])
def test_given_wallet_with_whitespace_around_when_requested_then_refused(affix: str) -> None:
    for spelled in (WALLET + affix, affix + WALLET):
        with pytest.raises(ValidationError):
            PredictRequest.model_validate(_body(wallet_address=spelled))


@pytest.mark.parametrize("affix", ["\n", " ", "\t"])
def test_given_transaction_id_with_whitespace_around_when_requested_then_refused(affix: str) -> None:
    with pytest.raises(ValidationError):
        PredictRequest.model_validate(_body(transaction_id="t-1" + affix))


@given(near_wallets)
@settings(max_examples=400, deadline=None)  # the first mixed-case example imports keccak (eth_utils)
def test_property_accepted_wallets_are_exactly_their_canonical_form(text: str) -> None:
    try:
        canonical = canonical_wallet(text)
    except ValueError:
        return
    # Only the case may differ between what was sent and the key: nothing added, nothing trimmed.
    assert re.fullmatch(r"0x[0-9a-f]{40}", canonical)
    assert text.lower() == canonical


@given(hex_wallets, AFFIXES)
def test_property_a_valid_wallet_with_anything_around_it_is_refused(wallet: str, affix: str) -> None:
    for spelled in (wallet + affix, affix + wallet):
        with pytest.raises(ValueError):
            canonical_wallet(spelled)


def test_given_checksummed_wallet_when_canonicalized_then_lowercase_and_bad_checksum_refused() -> None:
    assert canonical_wallet(CHECKSUMMED) == CHECKSUMMED.lower()
    with pytest.raises(ValueError):
        canonical_wallet(CHECKSUMMED.replace("Cc", "cC"))


@given(st.text(max_size=140))
@settings(max_examples=400)
def test_property_accepted_transaction_ids_are_the_exact_text(text: str) -> None:
    try:
        canonical = canonical_transaction_id(text)
    except ValueError:
        return
    assert canonical == text and re.fullmatch(r"[A-Za-z0-9_.:-]{1,128}", text)


ip_texts = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.builds(lambda a, x: f"{a}{x}", st.ip_addresses().map(str), AFFIXES),
    st.text(max_size=45),
    st.none(),
)


@given(ip_texts)
@settings(max_examples=400)
def test_property_no_ip_text_disables_the_ip_limit(text: str | None) -> None:
    # Whatever the client IP is, the IP rule counts the request against some subject...
    limiter = RateLimiter(default_rules(RateLimitSettings()), enabled=True)
    subjects = limiter.subjects(PREDICT_ROUTE, ip=text, user=None, wallet=WALLET)
    assert [rule.name for rule, _ in subjects] == ["ip", "user", "purchase"]
    assert all(subject for _, subject in subjects)
    # ...and every spelling of one address is counted, and listed, as that one address.
    canonical = canonical_ip(text)
    if canonical is None:
        assert ip_limit_subject(canonical) == UNPARSED_IP_SUBJECT
    else:
        assert canonical_ip(canonical) == canonical
        parsed = ipaddress.ip_address(canonical)
        assert not (isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped)


@given(st.ip_addresses(v=4))
def test_property_ipv4_mapped_spellings_are_the_ipv4_address(address: ipaddress.IPv4Address) -> None:
    assert canonical_ip(f"::ffff:{address}") == str(address)
    assert canonical_ip(str(ipaddress.IPv6Address(f"::ffff:{address}"))) == str(address)


@pytest.mark.parametrize(
    "instant",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59-14:00",
        "1969-12-31T23:59:59Z",
    ],
)
def test_given_metrics_window_out_of_range_when_parsed_then_validation_error_not_overflow(
    instant: str,
) -> None:
    with pytest.raises(ValidationError) as refused:
        MetricsQuery.model_validate({"start": instant})
    assert "1970-01-01" in str(refused.value)


@given(st.datetimes(timezones=st.timezones()), st.booleans())
@settings(max_examples=300)
def test_property_any_rfc3339_instant_is_accepted_or_refused_cleanly(moment, as_end: bool) -> None:
    text = moment.isoformat()
    if moment.utcoffset() is not None and "+" not in text[10:] and "-" not in text[10:]:
        text += "Z"
    try:
        query = MetricsQuery.model_validate({"end" if as_end else "start": text})
    except ValidationError:
        return
    query_value = query.end if as_end else query.start
    assert query_value is not None and query_value.utcoffset() is not None


def test_given_an_address_asked_twice_when_canonicalized_then_both_answers_are_the_same() -> None:
    # Given spellings of one IPv4 address and text that is no address, each asked twice (the second
    # from the memo since issue 29)
    for spelling in ("::ffff:198.51.100.7", "198.51.100.7", "64:ff9b::c633:6407"):
        # When canonicalized, Then the same IPv4 address both times
        assert canonical_ip(spelling) == canonical_ip(spelling) == "198.51.100.7"
    for not_an_address in (" 198.51.100.7", "", "198.51.100.7\n", 3325256711):
        assert canonical_ip(not_an_address) is None and canonical_ip(not_an_address) is None
    assert ip_limit_subject("2001:db8::1") == ip_limit_subject("2001:db8::1") == "2001:db8::/64"

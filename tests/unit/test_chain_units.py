"""Money on chain: 1 USD = 10**15 wei, whole cents survive the round trip."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.chain.units import WEI_PER_USD, usd_to_wei, wei_to_usd


def test_agreed_scale() -> None:
    assert WEI_PER_USD == 10**15
    assert usd_to_wei(1) == 10**15
    assert usd_to_wei("19.99") == 1999 * 10**13
    assert usd_to_wei(19.99) == 1999 * 10**13  # a float that is not exactly 19.99 in binary
    assert usd_to_wei(Decimal("0.005")) == 1 * 10**13  # half a cent rounds up


@given(st.integers(min_value=0, max_value=10**12))
def test_cents_round_trip(cents: int) -> None:
    usd = Decimal(cents) / 100
    assert usd_to_wei(usd) == cents * 10**13
    assert wei_to_usd(usd_to_wei(usd)) == usd


def test_wei_below_a_cent_rounds_to_the_cent() -> None:
    assert wei_to_usd(10**13 + 4 * 10**12) == Decimal("0.01")
    assert wei_to_usd(10**13 + 5 * 10**12) == Decimal("0.02")


@pytest.mark.parametrize("bad", [-1, "-0.01", float("nan"), float("inf")])
def test_negative_or_non_finite_prices_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        usd_to_wei(bad)  # type: ignore[arg-type]


def test_negative_wei_is_refused() -> None:
    with pytest.raises(ValueError):
        wei_to_usd(-1)

"""Money on chain: prices travel as wei with 1 USD = 10**15 wei, so that a whole cent is 10**13 wei
and a USD amount with two decimals converts both ways without loss (the agreed interface 1)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

WEI_PER_CENT = 10**13
WEI_PER_USD = 100 * WEI_PER_CENT

_CENT = Decimal("0.01")


def usd_to_cents(price_usd: Decimal | float | int | str) -> int:
    """Whole cents, rounded half-up (floats go through str() so 19.99 stays 1999 cents)."""
    amount = price_usd if isinstance(price_usd, Decimal) else Decimal(str(price_usd))
    if not amount.is_finite():
        raise ValueError(f"price must be a finite number, got {price_usd!r}")
    if amount < 0:
        raise ValueError(f"price must not be negative, got {price_usd!r}")
    return int((amount / _CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def usd_to_wei(price_usd: Decimal | float | int | str) -> int:
    """priceWei = round(price_usd * 100) * 10**13."""
    return usd_to_cents(price_usd) * WEI_PER_CENT


def wei_to_usd(price_wei: int) -> Decimal:
    """The USD amount, two decimals; wei below a whole cent are rounded half-up to the cent."""
    if price_wei < 0:
        raise ValueError(f"wei amount must not be negative, got {price_wei}")
    cents = (Decimal(price_wei) / WEI_PER_CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return (cents * _CENT).quantize(_CENT)


# The contract's fixed rates and limits (TicketMarket.sol), here rather than with the EVM client so that
# the rooms that only price tickets (the simulator's market) do not load web3.
PRIMARY_FEE_BPS = 500  # 5% of a primary sale goes to the platform
RESALE_FEE_BPS = 1_000  # 10% of a resale goes to the platform
MINT_BATCH_MAX = 400  # tickets per mint transaction (about 50k gas each; stays well under a block)

"""What the online feature stores answer for one purchase being scored: the purchase (`ScoringContext`)
and everything the ten features need about it (`Facts`), whichever store served them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from shared.errors import ValidationFailed
from shared.features.cadence import DAILY, snapshot_day


@dataclass(frozen=True, slots=True)
class ScoringContext:
    wallet_address: str
    ticket_id: int | str  # the marketplace's id; an integer is the ticket's token id on chain
    price_paid: float
    client_ip: str | None
    at: datetime
    # The payment instrument's token as the marketplace's order events carry it (payment_instrument);
    # optional, additive to the spec's request (shared.features.signals).
    payment_fingerprint: str | None = None

    def __post_init__(self) -> None:
        if self.wallet_address != self.wallet_address.lower():
            raise ValidationFailed("wallet_address must be lowercase", field="wallet_address")
        if self.at.tzinfo is None:
            raise ValidationFailed("at must be timezone-aware", field="at")
        if not math.isfinite(float(self.price_paid)) or float(self.price_paid) < 0:
            raise ValidationFailed("price_paid must be a finite number >= 0", field="price_paid")


@dataclass(slots=True)
class Facts:
    """Everything the ten features need about one purchase, from either store."""

    event_id: int | None  # None: a ticket the service does not know (yet)
    minted_at: datetime | None
    face_value: float | None
    popularity: float | None
    ref_price: float | None
    user_id: int | None
    first_seen_at: datetime | None
    hold_time: float | None
    attendance: float | None
    payment_diversity: float | None
    centrality: float | None
    velocity: int
    velocity_members: list[str]
    previous_location: tuple[float, float, datetime] | None


def chain_ticket_id(ticket_id: int | str) -> int | None:
    """The token id the ticket tables are keyed by: an integer id is one; another id is the
    marketplace's own, which no ticket row carries (its ticket is unknown to the features)."""
    return ticket_id if isinstance(ticket_id, int) else None


def centrality_day(at: datetime) -> str:
    """The day of the centrality snapshot in force at `at`."""
    return snapshot_day(DAILY.snapshot_at(at)).isoformat()

"""The simulated marketplace's nouns: accounts, events, orders, listings and the contract calls that
put the sales on a chain. Plain records; what happens to them lives in the modules that act on a
`World`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class User:
    user_id: int
    email: str
    country: str
    created_at: float
    kind: str  # regular | power | traveller | vpn | reseller | bot | fraudster | ring | admin
    wallets: list[str] = field(default_factory=list)
    instruments: list[tuple[str, str]] = field(default_factory=list)  # (payment_type, instrument)
    home_ips: list[str] = field(default_factory=list)
    agent: str = ""


@dataclass
class Event:
    event_id: int
    capacity: int
    face_value: Decimal
    popularity: float
    first_ticket_id: int
    sale_starts_at: float
    created_at: float
    show_at: float = math.inf  # when it takes place: its sales, primary and resale, end then
    sold: int = 0  # tickets sold in primary (the next unsold ticket is first_ticket_id + sold)
    open: bool = False


@dataclass
class Order:
    order_id: int
    transaction_id: str
    ticket_id: int
    event_id: int
    user: User
    wallet: str
    seller_wallet: str | None
    price: Decimal
    fee: Decimal
    payment_type: str
    instrument: str
    ip: str
    status: str
    created_at: float
    scenario: str  # the name of the scenario that made it (sim.truth)
    updated_at: float = 0.0
    chain_tx_hash: str | None = None


@dataclass
class ChainOp:
    """One contract call in time order. `kind` names a TicketMarketClient / SyntheticChain method."""

    at: float
    kind: str  # create_event | mint_batch | buy_primary_for | list_for | delist_for | buy_resale_for
    args: tuple[Any, ...]
    order: Order | None = None
    event_id: int | None = None  # for mint_batch: which event's tickets


@dataclass
class Listing:
    token_id: int
    seller: str
    price: Decimal
    public: bool  # wash-trading rings keep theirs to themselves

"""The facts the marketplace backend sends: one `data` model per event type, each field as the
`marketplace.*` / `intel.fraud_labels` column it writes, identifiers in their canonical form, every
time an Instant (shared/instants.py: a zone, 1970-01-01 to 9999-12-30, to the nanosecond)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    model_validator,
)

from shared.identifiers import canonical_ip, canonical_transaction_id, canonical_wallet
from shared.instants import AwareInstant

MAX_EVENTS = 500
MAX_ID = 2**63 - 1


def _ip(value: str) -> str:
    canonical = canonical_ip(value)
    if canonical is None:
        raise ValueError("must be an IPv4 or IPv6 address")
    return canonical


# Strict integers (a bool is refused), or the marketplace's own text ids ("usr_8f2", "evt_xyz_001"):
# the tables key on bigint, so a text id is given an integer once (ingest.external_ids, by
# shared.ingest.external_ids) and keeps it. "12" is a text id, not the integer 12.
_TEXT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def _id(value: object) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID:
        return value
    if isinstance(value, str) and _TEXT_ID.fullmatch(value):
        return value
    raise ValueError(
        f"must be an integer from 1 to {MAX_ID} or a text id of 1-128 letters, digits, '_', '.', ':' or '-'"
    )


Id = Annotated[int | str, PlainValidator(_id)]
Wallet = Annotated[str, AfterValidator(canonical_wallet)]
TransactionId = Annotated[str, AfterValidator(canonical_transaction_id)]
Ip = Annotated[str, AfterValidator(_ip)]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("10000000000"), decimal_places=2)]
Text = Annotated[str, Field(min_length=1, max_length=256)]


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserData(Data):
    user_id: Id
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]
    display_name: Text
    country: Country
    kyc_level: Annotated[int, Field(strict=True, ge=0, le=3)] = 0
    created_at: AwareInstant


class WalletLinkedData(Data):
    address: Wallet
    user_id: Id


class EventListedData(Data):
    event_id: Id
    name: Text
    venue: Text
    city: Text
    country: Country
    category: Literal["concert", "sports", "theatre", "festival", "conference"]
    capacity: Annotated[int, Field(strict=True, ge=1, le=10_000_000)]
    face_value: Money
    sale_starts_at: AwareInstant
    starts_at: AwareInstant

    @model_validator(mode="after")
    def _starts_after_sale(self) -> EventListedData:
        if self.starts_at <= self.sale_starts_at:
            raise ValueError("starts_at must be after sale_starts_at")
        return self


class TicketMintedData(Data):
    ticket_id: Id
    event_id: Id
    seat: Text
    face_value: Money
    owner_wallet: Wallet | None = None
    mint_tx_hash: Annotated[str, Field(pattern=r"^0x[0-9a-f]{64}$")] | None = None


class TicketListedData(Data):
    ticket_id: Id
    seller_wallet: Wallet
    price: Money


class TicketTransferredData(Data):
    ticket_id: Id
    from_wallet: Wallet
    to_wallet: Wallet


class OrderData(Data):
    """An order's state as the backend holds it when the fact happened (placed, paid, failed, refunded)."""

    order_id: Id
    transaction_id: TransactionId
    ticket_id: Id
    event_id: Id
    buyer_user_id: Id
    buyer_wallet: Wallet
    seller_wallet: Wallet | None = None
    kind: Literal["primary", "resale"]
    price: Money
    fee: Money
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    payment_type: Literal["card", "crypto", "bank_transfer"]
    payment_instrument: Text
    buyer_ip: Ip
    created_at: AwareInstant

    @model_validator(mode="after")
    def _seller_iff_resale(self) -> OrderData:
        if (self.kind == "primary") != (self.seller_wallet is None):
            raise ValueError("seller_wallet is given for a resale and only for a resale")
        return self


class SessionData(Data):
    session_id: Id
    user_id: Id
    ip: Ip
    user_agent: Annotated[str, Field(max_length=1024)]
    started_at: AwareInstant
    ended_at: AwareInstant | None = None


class LoginAttemptData(Data):
    attempt_id: Id
    user_id: Id | None = None  # null: the email matched no account
    email: Annotated[str, Field(min_length=1, max_length=254)]
    ip: Ip
    success: Annotated[bool, Field(strict=True)]
    failure_reason: Literal["bad_password", "bad_mfa", "locked", "unknown_user"] | None = None
    is_admin: Annotated[bool, Field(strict=True)] = False
    mfa: Literal["passed", "failed", "not_required"] = "not_required"

    @model_validator(mode="after")
    def _consistent(self) -> LoginAttemptData:
        if self.success != (self.failure_reason is None):
            raise ValueError("failure_reason is given exactly when success is false")
        if (self.mfa == "failed") != (self.failure_reason == "bad_mfa"):
            raise ValueError("mfa 'failed' goes with failure_reason 'bad_mfa' and only with it")
        return self


class ChargebackData(Data):
    transaction_id: TransactionId


class LabelData(Data):
    """A confirmed fraud or a false positive: the outcome of a review, an investigation, a ban."""

    transaction_id: TransactionId
    source: Literal["investigation", "ban", "customer_report", "review"] = "review"


DATA_MODELS: dict[str, type[Data]] = {
    "user.created": UserData,
    "user.updated": UserData,
    "wallet.linked": WalletLinkedData,
    "event.listed": EventListedData,
    "ticket.minted": TicketMintedData,
    "ticket.listed": TicketListedData,
    "ticket.transferred": TicketTransferredData,
    "order.placed": OrderData,
    "order.paid": OrderData,
    "order.failed": OrderData,
    "order.refunded": OrderData,
    "session.started": SessionData,
    "session.ended": SessionData,
    "login.attempted": LoginAttemptData,
    "chargeback.filed": ChargebackData,
    "fraud.confirmed": LabelData,
    "fraud.false_positive": LabelData,
}
EVENT_TYPES = tuple(DATA_MODELS)


class IngestEvent(BaseModel):
    """One accepted fact."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    type: str
    occurred_at: AwareInstant
    data: Data

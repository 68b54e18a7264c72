"""The scoring room's domain types: a purchase to score, the decision on it and why. The HTTP edge
(shared/api) exposes them as the API's request and response bodies; the domain never imports it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.identifiers import (
    canonical_ip,
    canonical_marketplace_id,
    canonical_transaction_id,
    canonical_wallet,
)

MAX_PRICE_USD = 1_000_000
MAX_TICKET_ID = 2**53 - 1  # JSON-safe integer; chain token ids of this marketplace are far below


class Decision(StrEnum):
    APPROVED = "APPROVED"
    REQUIRE_2FA = "REQUIRE_2FA"
    MANUAL_REVIEW = "MANUAL_REVIEW"
    BLOCKED = "BLOCKED"


class Reason(StrEnum):
    MODEL = "model"
    BLOCKLIST_WALLET = "blocklist_wallet"
    BLOCKLIST_IP = "blocklist_ip"
    FAIL_OPEN = "fail_open"


NOT_NULL = "must be a string when given: leave the field out rather than send null"


class PredictRequest(BaseModel):
    """POST /api/v1/ml/predict/fraud (spec 1.6). Strict: no type coercion, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    transaction_id: str
    wallet_address: str
    # The marketplace's own id: an integer (the ticket's token id on chain) or its text id.
    ticket_id: int | str
    price_paid: Annotated[float, Field(ge=0, le=MAX_PRICE_USD, allow_inf_nan=False)]
    # The buyer's context, as the marketplace saw it (optional, additive to the spec's four fields):
    # the IP-derived features, the IP limit and the IP blocklist use buyer_ip when it is given.
    buyer_ip: str | None = None
    user_id: str | None = None
    # The payment instrument's token, as the order events to ingest carry it (payment_instrument):
    # optional and additive; the payment signals (shared.features.signals) count it at once.
    payment_fingerprint: Annotated[str, Field(min_length=1, max_length=256)] | None = None

    @field_validator("transaction_id")
    @classmethod
    def _transaction_id(cls, value: str) -> str:
        return canonical_transaction_id(value)

    @field_validator("ticket_id", mode="plain")
    @classmethod
    def _ticket_id(cls, value: object) -> int | str:
        """One rule, one message: an integer in [1, 2^53 - 1] (JSON-safe; never a boolean), or a
        text id (no coercion between the two: "7" is the text id "7")."""
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= MAX_TICKET_ID:
                raise ValueError(f"an integer ticket id must lie between 1 and {MAX_TICKET_ID}")
            return value
        if isinstance(value, str):
            return canonical_marketplace_id(value)
        raise ValueError("must be a positive integer or a text id of 1-128 characters of A-Z a-z 0-9 _ . : -")

    # An optional field is given as a string or left out, never null: the API document says so (type
    # string), and API Gateway's request validation refuses a null before the function runs; the
    # validators run only on a value the request gave (a left-out field keeps its default).
    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError(NOT_NULL)
        return canonical_marketplace_id(value)

    @field_validator("payment_fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError(NOT_NULL)
        if value != value.strip() or not value.isprintable():
            raise ValueError("must be printable text with nothing around it")
        return value

    @field_validator("buyer_ip")
    @classmethod
    def _buyer_ip(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError(NOT_NULL)
        canonical = canonical_ip(value)
        if canonical is None:
            raise ValueError("must be an IPv4 or IPv6 address (nothing around it)")
        return canonical

    @field_validator("wallet_address")
    @classmethod
    def _wallet(cls, value: str) -> str:
        return canonical_wallet(value)


# How the application rate limits were applied to a request: exactly (shared windows in Redis),
# approximately (Redis unavailable: this process's own windows), or not at all (switched off).
RateLimitMode = Literal["exact", "approximate", "off"]


class PredictResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transaction_id: str
    fraud_score: float | None = Field(None, ge=0, le=1)
    decision: Decision
    confidence: float = Field(ge=0, le=1)
    top_features: dict[str, float | None]
    model_version: str
    reason: Reason
    degraded: bool
    replayed: bool
    scored_at: datetime
    rate_limits: RateLimitMode = "exact"
    # Features the model scored as missing because what they describe is not known yet (an unknown
    # ticket, a wallet without an account, no buyer IP).
    unavailable_features: list[str] = Field(default_factory=list)
    # The rules that raised the model's score to their floor (shared.scoring.decision.RULES), if any.
    rules: list[str] = Field(default_factory=list)

"""The scoring room's domain types: a purchase to score, the decision on it and why. The HTTP edge
(shared/api) exposes them as the API's request and response bodies; the domain never imports it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.identifiers import canonical_transaction_id, canonical_wallet

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


class PredictRequest(BaseModel):
    """POST /api/v1/ml/predict/fraud (spec 1.6). Strict: no type coercion, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    transaction_id: str
    wallet_address: str
    ticket_id: Annotated[int, Field(ge=1, le=MAX_TICKET_ID)]
    price_paid: Annotated[float, Field(ge=0, le=MAX_PRICE_USD, allow_inf_nan=False)]

    @field_validator("transaction_id")
    @classmethod
    def _transaction_id(cls, value: str) -> str:
        return canonical_transaction_id(value)

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

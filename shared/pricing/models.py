"""The pricing routes' bodies (shared/api/openapi.yaml: PricingAssignRequest, PricingAssignment,
PricingExperiment)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
)

from shared.pricing.arms import Arm

MAX_ID = 2**63 - 1
_TEXT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def _number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return value


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


# USD, kept to the cent (like the scoring route's price_paid): 12.345 is 12.34.
Money = Annotated[
    Decimal, BeforeValidator(_number), Field(ge=0, le=Decimal("10000000000")), AfterValidator(_cents)
]
Amount = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]  # a JSON number


def _event_id(value: object) -> int | str:
    """The marketplace's event id as ingest took it: an integer, or its own text id."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID:
        return value
    if isinstance(value, str) and _TEXT_ID.fullmatch(value):
        return value
    raise ValueError(
        f"must be an integer from 1 to {MAX_ID} or a text id of 1-128 letters, digits, '_', '.', ':' or '-'"
    )


EventId = Annotated[int | str, PlainValidator(_event_id)]


class AssignRequest(BaseModel):
    """POST /api/v1/pricing/assignments: the event to price; its guardrails optionally (defaults:
    TG_PRICING_FLOOR_RATIO and TG_PRICING_CEILING_RATIO times its face value). Given again, the arm
    stays and the guardrails given replace the stored ones. A floor above the ceiling (given, stored
    or default) is refused by the service, naming price_floor (price_ceiling when only it is given)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: EventId
    price_floor: Money | None = None
    price_ceiling: Money | None = None


class Price(BaseModel):
    amount: Amount
    currency: Literal["USD"] = "USD"
    face_value: Amount
    multiplier: float
    floor: Amount
    ceiling: Amount
    clamped: Literal["floor", "ceiling"] | None


class Assignment(BaseModel):
    event_id: int
    arm: Arm
    strategy: str
    explored: bool
    assigned_at: str
    new: bool  # this call assigned it
    served_arm: Arm  # the arm whose price is quoted (A while the kill switch is set)
    kill_switch: bool
    popularity: float
    price: Price


class ArmState(BaseModel):
    arm: Arm
    strategy: str
    events_assigned: int
    events_settled: int
    mean_reward: float | None
    reward_sd: float | None
    revenue: Amount
    sell_through: float | None


class ExperimentState(BaseModel):
    experiment: str = "dynamic-pricing"
    routing: Literal["epsilon_greedy"] = "epsilon_greedy"
    epsilon: float
    kill_switch: bool
    kill_reason: str | None
    best_arm: Arm
    statistics_source: Literal["redis", "postgresql"]
    arms: list[ArmState]
    demand_models: dict[str, float]  # category -> arm D's multiplier

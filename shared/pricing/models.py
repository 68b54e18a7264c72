"""The pricing routes' bodies (shared/api/openapi.yaml: PricingAssignRequest, PricingAssignment,
PricingExperiment)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator

from shared.pricing.arms import Arm

MAX_ID = 2**63 - 1
_TEXT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
Money = Annotated[Decimal, Field(ge=0, le=Decimal("10000000000"), decimal_places=2)]


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
    stays and the guardrails given replace the stored ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: EventId
    price_floor: Money | None = None
    price_ceiling: Money | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AssignRequest:
        if (
            self.price_floor is not None
            and self.price_ceiling is not None
            and self.price_floor > self.price_ceiling
        ):
            raise ValueError("price_floor must not be above price_ceiling")
        return self


class Price(BaseModel):
    amount: Decimal
    currency: Literal["USD"] = "USD"
    face_value: Decimal
    multiplier: float
    floor: Decimal
    ceiling: Decimal
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
    revenue: Decimal
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

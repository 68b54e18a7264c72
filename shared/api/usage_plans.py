"""API keys and usage plans (shared/api/usage_plans.yaml): the CDK stack and the local gateway read
the same file, so that local throttling behaves like API Gateway's, and so that each key reaches only
the operations its plan lists (see shared/api/access.py for how that is enforced in AWS)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

USAGE_PLANS_PATH = Path(__file__).with_name("usage_plans.yaml")


class Throttle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_limit: float = Field(gt=0, description="tokens (requests) per second")
    burst_limit: int = Field(ge=1, description="bucket size")


class Quota(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(ge=1)
    period: Literal["DAY", "WEEK", "MONTH"]


class ApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    local_value: str = Field(min_length=20, description="the key the local gateway accepts")


class UsagePlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    throttle: Throttle
    quota: Quota | None = None
    api_keys: list[ApiKey] = Field(min_length=1)
    operations: list[str] = Field(
        min_length=1, description="operationIds of shared/api/openapi.yaml this plan's keys may call"
    )

    def allows(self, operation_id: str) -> bool:
        return operation_id in self.operations


class UsagePlans(BaseModel):
    model_config = ConfigDict(extra="forbid")

    usage_plans: list[UsagePlan] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_keys(self) -> UsagePlans:
        values = [key.local_value for plan in self.usage_plans for key in plan.api_keys]
        if len(values) != len(set(values)):
            raise ValueError("two API keys share a local_value")
        names = [key.name for plan in self.usage_plans for key in plan.api_keys]
        if len(names) != len(set(names)):
            raise ValueError("two API keys share a name")
        return self

    @model_validator(mode="after")
    def _operations_exist_and_need_a_key(self) -> UsagePlans:
        """Every listed operation is in openapi.yaml and requires an API key (a plan cannot scope an
        anonymous route, and a typo must not pass silently)."""
        from shared.api.spec import operations

        keyed = {op.operation_id: op.requires_api_key for op in operations()}
        for plan in self.usage_plans:
            for operation_id in plan.operations:
                if operation_id not in keyed:
                    raise ValueError(
                        f"plan {plan.name}: {operation_id} is not an operationId of openapi.yaml"
                    )
                if not keyed[operation_id]:
                    raise ValueError(f"plan {plan.name}: {operation_id} does not require an API key")
            if len(plan.operations) != len(set(plan.operations)):
                raise ValueError(f"plan {plan.name} lists an operation twice")
        return self

    def plan_for_key(self, value: str) -> tuple[UsagePlan, ApiKey] | None:
        for plan in self.usage_plans:
            for key in plan.api_keys:
                if key.local_value == value:
                    return plan, key
        return None


def load_usage_plans(path: Path = USAGE_PLANS_PATH) -> UsagePlans:
    return UsagePlans.model_validate(yaml.safe_load(path.read_text()))


def local_api_key(plan_name: str = "marketplace-backend", path: Path = USAGE_PLANS_PATH) -> str:
    """The local key of a plan (for the runner's curl examples and the tests)."""
    for plan in load_usage_plans(path).usage_plans:
        if plan.name == plan_name:
            return plan.api_keys[0].local_value
    raise KeyError(plan_name)

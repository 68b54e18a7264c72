"""API keys and usage plans as API Gateway applies them (per key: throttle, then quota), and the
gateway's own answers (openapi.yaml's table of gateway responses), for tooling/local/gateway.py."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from shared.api.answers import out_of_plan_message
from shared.api.errors import error_body
from shared.api.spec import Operation, gateway_responses
from shared.api.usage_plans import UsagePlan, UsagePlans

_QUOTA_PERIOD_S = {"DAY": 86_400, "WEEK": 7 * 86_400, "MONTH": 30 * 86_400}
Refusal = tuple[int, dict[str, Any], dict[str, str]]  # status, error body, headers


def gateway_answer(response_type: str, **values: Any) -> tuple[int, dict[str, Any]]:
    """Status and error body of one of the gateway's own answers, from openapi.yaml's table; `values`
    fill its message."""
    response = gateway_responses()[response_type]
    if response.status is None:
        raise ValueError(f"gateway response {response_type} has no status of its own")
    return response.status, error_body(response.code, response.message.format(**values), response.field)


class TokenBucket:
    """API Gateway's throttle: `rate` tokens/s refill a bucket of `burst`; a request takes one."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


@dataclass
class _KeyState:
    name: str  # the event's apiKeyId (API Gateway puts the key's id there)
    plan: UsagePlan
    bucket: TokenBucket
    quota_used: int = 0
    quota_started: float = field(default_factory=time.monotonic)


class ApiKeyGuard:
    """API keys and usage plans as API Gateway applies them (per key: throttle, then quota), and the
    plan's operations, which API Gateway cannot enforce per method (see shared/api/access.py)."""

    def __init__(self, plans: UsagePlans) -> None:
        self._states: dict[str, _KeyState] = {}
        for plan in plans.usage_plans:
            for key in plan.api_keys:
                self._states[key.local_value] = _KeyState(
                    key.name, plan, TokenBucket(plan.throttle.rate_limit, plan.throttle.burst_limit)
                )
        self._lock = threading.Lock()

    def key_id(self, api_key: str | None) -> str | None:
        """The name of a valid key (what the event carries as its apiKeyId), else None."""
        state = self._states.get(api_key or "")
        return state.name if state is not None else None

    def check(self, api_key: str | None, operation: Operation) -> Refusal | None:
        """None when the request may pass, else (status, error body, headers)."""
        state = self._states.get(api_key or "")
        if state is None:
            return *gateway_answer("INVALID_API_KEY"), {}
        if not state.plan.allows(operation.operation_id):
            described = f"{operation.operation_id} ({operation.method} {operation.path})"
            return 403, error_body("forbidden", out_of_plan_message(described)), {}
        wait_s = state.bucket.take()
        if wait_s > 0:
            return *gateway_answer("THROTTLED"), {"Retry-After": str(max(1, int(wait_s + 0.999)))}
        return self._count_quota(state)

    def _count_quota(self, state: _KeyState) -> Refusal | None:
        quota = state.plan.quota
        if quota is None:
            return None
        with self._lock:
            period = _QUOTA_PERIOD_S[quota.period]
            now = time.monotonic()
            if now - state.quota_started >= period:
                state.quota_started, state.quota_used = now, 0
            if state.quota_used >= quota.limit:
                retry = int(state.quota_started + period - now) + 1
                return *gateway_answer("QUOTA_EXCEEDED"), {"Retry-After": str(retry)}
            state.quota_used += 1
        return None

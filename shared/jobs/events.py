"""What a scheduled job is asked to do: the EventBridge event (or a rule's constant input) as a
validated ScheduledJob."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from shared.errors import ValidationFailed


class ScheduledJob(BaseModel):
    """An EventBridge scheduled event (`detail`) or a rule target's constant input, e.g.
    {"mode": "daily"}; both shapes are accepted, nothing else."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    mode: Literal["hourly", "daily"] = "hourly"
    since: datetime | None = None
    as_of: datetime | None = None
    # EventBridge's `time`: when the rule fired. The feature snapshots follow it, not the clock,
    # so a delayed or retried invocation still writes its own slot's snapshot.
    scheduled_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        """A whole EventBridge event (a rule's or EventBridge Scheduler's) is read through Powertools'
        EventBridgeModel: its `detail` (an object from a rule, a JSON string from Scheduler) holds
        the job, its `time` when it fired."""
        if not (isinstance(value, dict) and "detail-type" in value):
            return value
        detail = value.get("detail")
        if isinstance(detail, str):
            try:
                detail = json.loads(detail) if detail.strip() else {}
            except json.JSONDecodeError:
                raise ValueError("detail is a string but not JSON") from None
        if detail is None:
            detail = {}
        if not isinstance(detail, dict):
            raise ValueError("detail must be an object")
        # Imported here: Powertools' parser models package builds every AWS event model (~0.7 s).
        from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

        # `version` is always "0" and says nothing to a job: an event without it (the SAM CLI's generated
        # ScheduledEvent sample, a hand-written test event) is read as version "0".
        envelope = EventBridgeModel.model_validate({"version": "0", **value, "detail": detail})
        return {**detail, "scheduled_at": envelope.time}


def parse_job(event: Any) -> ScheduledJob:
    try:
        job = ScheduledJob.model_validate(event if event is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        raise ValidationFailed(f"invalid job event: {where}: {first['msg']}", field=where) from None
    for name in ("since", "as_of", "scheduled_at"):
        value = getattr(job, name)
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{name} must carry a timezone", field=name)
    return job

"""A batch checked event by event: each bad event gets its own reason naming its field, the good
ones go on. Nothing here touches a database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from shared.identifiers import canonical_transaction_id
from shared.ingest.models import DATA_MODELS, MAX_EVENTS, IngestEvent

# A clock ahead of ours by more than this is a bad clock (or a forged time), not a fact from the future:
# a future occurred_at would win every later update.
CLOCK_SKEW = timedelta(minutes=5)
_ENVELOPE_FIELDS = {"event_id", "type", "occurred_at", "data"}
_INSTANT: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)

Status = Literal["accepted", "duplicate", "rejected"]


class EventResult(BaseModel):
    index: int
    event_id: str | None = None
    status: Status
    field: str | None = None
    reason: str | None = None


class IngestBatch(BaseModel):
    """The request body: the events are checked one by one (validate_events), so only the envelope
    is checked here; a body that is not this shape is refused whole."""

    model_config = ConfigDict(extra="forbid")

    events: list[Any] = Field(min_length=1, max_length=MAX_EVENTS)


def _rejected(index: int, event_id: str | None, field: str, reason: str) -> EventResult:
    return EventResult(
        index=index, event_id=event_id, status="rejected", field=field, reason=f"{field}: {reason}"
    )


def _first_error(exc: ValidationError, prefix: str) -> tuple[str, str]:
    error = exc.errors(include_url=False)[0]
    path = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return (f"{prefix}.{path}" if path else prefix), message


def validate_events(
    raw_events: list[Any], *, now: datetime
) -> tuple[list[tuple[int, IngestEvent]], list[EventResult]]:
    """The valid events (with their index in the batch) and a rejection for every other one."""
    valid: list[tuple[int, IngestEvent]] = []
    rejected: list[EventResult] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_events):
        outcome = _validate_one(index, raw, now=now)
        if isinstance(outcome, EventResult):
            rejected.append(outcome)
        elif outcome.event_id in seen:
            rejected.append(
                _rejected(index, outcome.event_id, "event_id", "appears more than once in this batch")
            )
        else:
            seen.add(outcome.event_id)
            valid.append((index, outcome))
    return valid, rejected


def _validate_one(index: int, raw: Any, *, now: datetime) -> IngestEvent | EventResult:
    if not isinstance(raw, dict):
        return _rejected(index, None, "event", "must be an object {event_id, type, occurred_at, data}")
    try:
        event_id = canonical_transaction_id(raw.get("event_id"))
    except ValueError as exc:
        reason = "is required" if "event_id" not in raw else str(exc)
        return _rejected(index, None, "event_id", reason)
    for name in sorted(_ENVELOPE_FIELDS - raw.keys()):
        return _rejected(index, event_id, name, "is required")
    for name in sorted(raw.keys() - _ENVELOPE_FIELDS):
        return _rejected(index, event_id, str(name), "is not a field of an event")
    event_type = raw["type"]
    model = DATA_MODELS.get(event_type) if isinstance(event_type, str) else None
    if model is None:
        return _rejected(index, event_id, "type", f"unknown event type {event_type!r}")
    try:
        occurred_at = _INSTANT.validate_python(raw["occurred_at"])
    except ValidationError as exc:
        return _rejected(index, event_id, "occurred_at", _first_error(exc, "occurred_at")[1])
    if occurred_at > now + CLOCK_SKEW:
        return _rejected(
            index, event_id, "occurred_at", f"is more than {int(CLOCK_SKEW.total_seconds())} s in the future"
        )
    if not isinstance(raw["data"], dict):
        return _rejected(index, event_id, "data", "must be an object")
    try:
        data = model.model_validate(raw["data"])
    except ValidationError as exc:
        field, message = _first_error(exc, "data")
        return _rejected(index, event_id, field, message)
    return IngestEvent(event_id=event_id, type=event_type, occurred_at=occurred_at, data=data)

"""A batch checked event by event: each bad event gets its own reason naming its field, the good
ones go on. Nothing here touches a database.

Before its fields, an event is checked whole for what no reader should have to resolve or store: a
key given twice (two parsers would keep different values; the scoring route refuses it too), and
text PostgreSQL cannot hold (NUL, lone surrogates; shared/text.py) in any key or value."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from shared.identifiers import canonical_transaction_id
from shared.ingest.models import DATA_MODELS, MAX_EVENTS, IngestEvent
from shared.instants import AwareInstant, Instant
from shared.text import first_unstorable, printable

# A clock ahead of ours by more than this is a bad clock (or a forged time), not a fact from the future:
# a future occurred_at would win every later update.
CLOCK_SKEW = timedelta(minutes=5)
_ENVELOPE_FIELDS = {"event_id", "type", "occurred_at", "data"}
_INSTANT: TypeAdapter[Instant] = TypeAdapter(AwareInstant)

Status = Literal["accepted", "duplicate", "rejected"]


class EventResult(BaseModel):
    index: int
    event_id: str | None = None
    status: Status
    field: str | None = None
    reason: str | None = None

    @field_validator("event_id", "field", "reason")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        """Written with storable text only: a field named "a\\u0000b" is named so, not with a NUL."""
        return None if value is None else printable(value)


class IngestBatch(BaseModel):
    """The request body: the events are checked one by one (validate_events), so only the envelope
    is checked here; a body that is not this shape is refused whole."""

    model_config = ConfigDict(extra="forbid")

    events: list[Any] = Field(min_length=1, max_length=MAX_EVENTS)


class _Repeated(dict[str, Any]):
    """A JSON object in which a key was given more than once (`repeated`: the first such key)."""

    repeated: str


def _keep_repeated(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    marked = _Repeated(value)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.repeated = key
            break
        seen.add(key)
    return marked


class Events(list[Any]):
    """The events of a body, and whether any object in the body gave a key twice (when none did, no
    event is walked looking for one)."""

    repeated: bool = True


def read_batch(body: str) -> Events | str:
    """The events of a request body, or why the body as a whole is refused."""
    try:
        IngestBatch.model_validate_json(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(printable(str(part)) for part in error["loc"]) or "body"
        return f"{where}: {error['msg']}"
    # Read again keeping each object's repeated keys: an event with one is rejected (validate_events)
    repeats: list[dict[str, Any]] = []

    def keep(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value = _keep_repeated(pairs)
        if isinstance(value, _Repeated):
            repeats.append(value)
        return value

    parsed = json.loads(body, object_pairs_hook=keep)
    if isinstance(parsed, _Repeated):
        return f"body: the key {printable(parsed.repeated)!r} appears more than once"
    events = Events(parsed["events"])
    events.repeated = bool(repeats)
    return events


def _first_repeated(value: Any) -> str | None:
    """The path of the first key given twice in an object anywhere in `value` (an event)."""
    stack: list[tuple[tuple[str, ...], Any]] = [((), value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, _Repeated):
            return ".".join(printable(part) for part in (*where, item.repeated))
        if isinstance(item, dict):
            stack.extend(
                ((*where, str(key)), child) for key, child in item.items() if isinstance(child, dict | list)
            )
        elif isinstance(item, list):
            stack.extend(
                ((*where, str(i)), child) for i, child in enumerate(item) if isinstance(child, dict | list)
            )
    return None


def _unreadable(
    index: int, event_id: str | None, raw: dict[str, Any], *, look_for_repeats: bool = True
) -> EventResult | None:
    """The rejection of an event with a key given twice or text PostgreSQL cannot store, anywhere."""
    repeated = _first_repeated(raw) if look_for_repeats else None
    if repeated is not None:
        return _rejected(index, event_id, repeated, "appears more than once in the event (one value per key)")
    unstorable = first_unstorable(raw)
    return None if unstorable is None else _rejected(index, event_id, *unstorable)


def _rejected(index: int, event_id: str | None, field: str, reason: str) -> EventResult:
    return EventResult(
        index=index, event_id=event_id, status="rejected", field=field, reason=f"{field}: {reason}"
    )


def _first_error(exc: ValidationError, prefix: str) -> tuple[str, str]:
    error = exc.errors(include_url=False)[0]
    path = ".".join(printable(str(part)) for part in error["loc"])
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
        outcome = _validate_one(index, raw, now=now, look_for_repeats=getattr(raw_events, "repeated", True))
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


def _validate_one(
    index: int, raw: Any, *, now: datetime, look_for_repeats: bool
) -> IngestEvent | EventResult:
    if not isinstance(raw, dict):
        return _rejected(index, None, "event", "must be an object {event_id, type, occurred_at, data}")
    try:
        event_id = canonical_transaction_id(raw.get("event_id"))
    except ValueError as exc:
        return _unreadable(index, None, raw, look_for_repeats=look_for_repeats) or _rejected(
            index, None, "event_id", "is required" if "event_id" not in raw else str(exc)
        )
    unreadable = _unreadable(index, event_id, raw, look_for_repeats=look_for_repeats)
    if unreadable is not None:
        return unreadable
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

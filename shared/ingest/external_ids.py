"""The marketplace's text ids -> the integers the tables key on (ingest.external_ids): given once,
kept for good, so every later fact and the scoring path find the same row."""

from __future__ import annotations

from typing import Any

import psycopg

from shared.ingest.models import IngestEvent

# The `data` fields that hold an id, and the kind of thing each names.
ID_KINDS: dict[str, str] = {
    "user_id": "user",
    "buyer_user_id": "user",
    "event_id": "event",
    "ticket_id": "ticket",
    "order_id": "order",
    "session_id": "session",
    "attempt_id": "login",
}

Indexed = tuple[int, IngestEvent]


def _text_ids(event: IngestEvent) -> list[tuple[str, str, str]]:
    """(field, kind, text id) for each text id of the event's data."""
    return [
        (name, kind, value)
        for name, kind in ID_KINDS.items()
        if isinstance(value := getattr(event.data, name, None), str)
    ]


def resolve_text_ids(conn: psycopg.Connection[Any], events: list[Indexed]) -> list[Indexed]:
    """The events with every text id replaced by its integer (given now when new)."""
    wanted = sorted({(kind, value) for _, event in events for _, kind, value in _text_ids(event)})
    if not wanted:
        return events
    kinds, values = [kind for kind, _ in wanted], [value for _, value in wanted]
    # Sorted: concurrent batches take the keys' locks in one order.
    conn.execute(
        "INSERT INTO ingest.external_ids (kind, external_id) SELECT * FROM unnest(%s::text[], %s::text[])"
        " ON CONFLICT (kind, external_id) DO NOTHING",
        (kinds, values),
    )
    given = {
        (kind, value): internal
        for kind, value, internal in conn.execute(
            "SELECT e.kind, e.external_id, e.internal_id FROM ingest.external_ids e"
            " JOIN unnest(%s::text[], %s::text[]) AS w(kind, external_id) USING (kind, external_id)",
            (kinds, values),
        )
    }
    resolved: list[Indexed] = []
    for index, event in events:
        ids = _text_ids(event)
        if ids:
            data = event.data.model_copy(update={name: given[(kind, value)] for name, kind, value in ids})
            event = event.model_copy(update={"data": data})
        resolved.append((index, event))
    return resolved

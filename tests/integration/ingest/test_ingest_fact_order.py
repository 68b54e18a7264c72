"""Issue 21 finding 4: two facts about one row with the same occurred_at had no tie-break. The rule
(shared/ingest/store.py): the later occurred_at wins, compared to the nanosecond; at an equal one, the
fact ingested later wins (a later batch, or later in its batch)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.fixtures.ingest import event, ingest_events, user

AT = "2026-01-01T10:00:00.000000100Z"


pytestmark = pytest.mark.usefixtures("fresh_pool")


def _name(db: psycopg.Connection, user_id: int) -> str:
    row = db.execute("SELECT display_name FROM marketplace.users WHERE user_id = %s", (user_id,)).fetchone()
    assert row is not None
    return str(row[0])


def _update(user_id: int, name: str, occurred_at: str) -> dict[str, Any]:
    return event("user.updated", user(user_id, display_name=name), occurred_at=occurred_at)


def test_given_two_facts_with_the_same_occurred_at_in_two_batches_then_the_later_batch_wins(
    db: psycopg.Connection,
) -> None:
    ingest_events([_update(31, "first", AT)])
    ingest_events([_update(31, "second", AT)])
    assert _name(db, 31) == "second"


def test_given_two_facts_with_the_same_occurred_at_in_one_batch_then_the_later_in_the_batch_wins(
    db: psycopg.Connection,
) -> None:
    for attempt in range(5):  # the order of the batch decides, every time
        user_id = 40 + attempt
        ingest_events([_update(user_id, "a", AT), _update(user_id, "b", AT), _update(user_id, "c", AT)])
        assert _name(db, user_id) == "c"


def test_given_two_facts_100_ns_apart_then_the_later_one_wins_whatever_the_order_they_came_in(
    db: psycopg.Connection,
) -> None:
    # Given the later fact sent first, then the earlier one (in one batch, and in two)
    later, earlier = "2026-01-01T10:00:00.000000200Z", AT
    ingest_events([_update(51, "later", later), _update(51, "earlier", earlier)])
    ingest_events([_update(52, "later", later)])
    ingest_events([_update(52, "earlier", earlier)])
    # Then the fact that happened later is the row, in both cases: the 100 ns were not cut away
    assert _name(db, 51) == "later" and _name(db, 52) == "later"
    stored = db.execute("SELECT source_occurred_ns FROM marketplace.users WHERE user_id = 52").fetchone()
    assert stored == (200,)
    assert db.execute(
        "SELECT occurred_ns FROM ingest.events WHERE data->>'display_name' = 'earlier' LIMIT 1"
    ).fetchone() == (100,)

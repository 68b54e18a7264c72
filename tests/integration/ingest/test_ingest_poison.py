"""Issue 21 finding 1: one poisoned event never takes its batch, or the queue, with it. Through the
local durable FIFO queue and the same Lambda handler the SQS event source calls, against the real
PostgreSQL behind the pooler (as deployed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shared.ingest.consumer import batch_outcome, consume, message_attributes, queued_batch
from shared.ingest.models import Data, IngestEvent, OrderData, UserData
from shared.ingest.store import store_events
from shared.instants import parse_instant
from tests.fixtures.ingest import event, order, user
from tooling.local.gateway import LocalLambdaContext
from tooling.local.queue import DirectoryQueue, drain_once

CONTEXT = LocalLambdaContext("ingest", "test")
WALLET = "0x" + "ab" * 20


pytestmark = pytest.mark.usefixtures("fresh_pool")


def _order_placed(order_id: int, **overrides: Any) -> dict[str, Any]:
    return event(
        "order.placed", order(order_id, ticket_id=1, event_id=1, user_id=1, wallet=WALLET, **overrides)
    )


POISONS = {
    "a NUL in an envelope key": lambda: {**event("user.created", user(902)), "a\u0000b": 1},
    "a NUL in a data key": lambda: event("user.created", {**user(902), "x\u0000": "y"}),
    "a NUL in an order.placed text field": lambda: _order_placed(903, payment_instrument="card\u0000fp"),
    "a NUL in a data value": lambda: event("user.created", user(902, display_name="Ann\u0000")),
}
FIELDS = {
    "a NUL in an envelope key": "a\\u0000b",
    "a NUL in a data key": "data.x\\u0000",
    "a NUL in an order.placed text field": "data.payment_instrument",
    "a NUL in a data value": "data.display_name",
}


def _fact(raw: dict[str, Any], model: type[Data], **unchecked: Any) -> IngestEvent:
    data = model.model_validate(raw["data"]).model_copy(update=unchecked)
    return IngestEvent(
        event_id=raw["event_id"], type=raw["type"], occurred_at=parse_instant(raw["occurred_at"]), data=data
    )


def _send(queue: DirectoryQueue, batch_id: str, events: list[dict[str, Any]]) -> None:
    batch = queued_batch(json.dumps({"events": events}), batch_id=batch_id)
    queue.send(batch.body, message_attributes(batch))


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_given_a_batch_with_a_poisoned_event_when_consumed_then_the_good_one_is_stored_and_the_queue_moves_on(
    db: psycopg.Connection, tmp_path: Path, poison: str
) -> None:
    import functions.ingest.handler as consumer

    # Given a batch of one good event and one poisoned one, and a clean batch behind it (FIFO)
    queue = DirectoryQueue(tmp_path / "ingest", visibility_timeout_s=300)
    _send(queue, "poisoned", [event("user.created", user(901)), POISONS[poison]()])
    _send(queue, "clean", [event("user.created", user(904))])
    # When the consumer drains the queue once per batch
    settled = [drain_once(queue, consumer.handler, CONTEXT, batch_size=1) for _ in range(2)]
    # Then both batches are settled at once: nothing retried, nothing in flight, nothing dead-lettered
    assert settled == [1, 1]
    assert queue.depth() == {"ready": 0, "inflight": 0, "dead": 0}
    # and the good event is stored, the poisoned one rejected with its field and reason
    outcome = batch_outcome(db, "poisoned")
    assert (outcome.status, outcome.accepted, outcome.rejected) == ("processed", 1, 1)
    bad = outcome.results[1]
    assert (bad.status, bad.field) == ("rejected", FIELDS[poison])
    assert bad.reason is not None and "NUL" in bad.reason and "\x00" not in bad.reason
    users = {row[0] for row in db.execute("SELECT user_id FROM marketplace.users")}
    assert users == {901, 904}
    assert batch_outcome(db, "clean").accepted == 1


def test_given_an_event_with_a_key_given_twice_when_consumed_then_it_alone_is_rejected(
    db: psycopg.Connection,
) -> None:
    # Given a body whose second event gives `display_name` twice (the scoring route refuses this too)
    good = json.dumps(event("user.created", user(911)))
    twice = json.dumps(event("user.created", user(912))).replace(
        '"display_name":', '"display_name": "First", "display_name":'
    )
    body = '{"events": [' + good + ", " + twice + "]}"
    # When it is consumed
    with psycopg.connect(db.info.dsn) as conn:
        outcome = consume(conn, queued_batch(body, batch_id="twice"))
    # Then the first is stored and the second rejected naming the key, never "last one wins"
    assert [(r.status, r.field) for r in outcome.results] == [
        ("accepted", None),
        ("rejected", "data.display_name"),
    ]
    assert (
        outcome.results[1].reason
        == "data.display_name: appears more than once in the event (one value per key)"
    )
    assert db.execute("SELECT count(*) FROM marketplace.users WHERE user_id = 912").fetchone() == (0,)


def test_given_events_given_twice_in_the_envelope_when_consumed_then_the_batch_is_refused_with_its_reason(
    db: psycopg.Connection,
) -> None:
    # Given a body that gives its `events` twice: which batch did the marketplace mean?
    one = json.dumps(event("user.created", user(913)))
    body = '{"events": [' + one + '], "events": [' + one + "]}"
    with psycopg.connect(db.info.dsn) as conn:
        outcome = consume(conn, queued_batch(body, batch_id="envelope-twice"))
    assert (outcome.status, outcome.error) == ("refused", "body: the key 'events' appears more than once")


def test_given_a_write_the_database_refuses_when_stored_then_that_event_alone_is_rejected_with_its_reason(
    db: psycopg.Connection,
) -> None:
    # Given a valid event and one whose text the database cannot hold, past validation (as a reader
    # with other rules, or a future field, might let through): the ledger's write of it fails
    good = _fact(event("user.created", user(921)), UserData)
    placed = _order_placed(922)
    bad = _fact(placed, OrderData, payment_instrument="fp\u0000")
    # When both are stored in one batch
    with psycopg.connect(db.info.dsn) as conn:
        results = store_events(conn, [(0, good), (1, bad)])
        conn.commit()
    # Then the good one is stored and the refused one rejected with the database's reason
    assert [r.status for r in results] == ["accepted", "rejected"]
    assert results[1].field == "data" and "\\u0000" in (results[1].reason or "")
    assert db.execute("SELECT event_id FROM ingest.events").fetchall() == [(good.event_id,)]
    assert db.execute("SELECT user_id FROM marketplace.users").fetchall() == [(921,)]

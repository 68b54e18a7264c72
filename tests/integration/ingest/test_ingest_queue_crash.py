"""Issue 11: the consumer killed mid-batch (the process dies: no exception handler, no rollback call),
then restarted: every event stored exactly once. Through the local durable queue and the same Lambda
handler the SQS event source calls."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aws_lambda_powertools.utilities.data_classes import SQSEvent

from shared.db.connection import reset_pool
from shared.ingest.consumer import consume_record, message_attributes, queued_batch
from tests.fixtures.ingest import event, user
from tooling.local.gateway import LocalLambdaContext
from tooling.local.queue import DirectoryQueue, drain_once, sqs_event

KILLED = 137
CONTEXT = LocalLambdaContext("ingest", "test")

# Runs the consumer in its own process; the second batch's second write kills the process outright.
_CRASHING_CONSUMER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from shared.ingest import store
    from tooling.local.queue import DirectoryQueue, drain_once, sqs_event
    import functions.ingest.handler as consumer
    from tooling.local.gateway import LocalLambdaContext

    real, calls = store.apply_group, {"n": 0}

    def dies_mid_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # batch 1 wrote 1 group (users); batch 2: users done, now its wallets
            os._exit(137)
        return real(*args, **kwargs)

    store.apply_group = dies_mid_batch
    queue = DirectoryQueue(Path(sys.argv[1]))
    while drain_once(queue, consumer.handler, LocalLambdaContext("ingest", "crash"), batch_size=1):
        pass
    sys.exit(0)
    """
)


def _batches() -> list[list[dict[str, Any]]]:
    first = [event("user.created", user(n), event_id=f"u-{n}") for n in range(1, 41)]
    second = [event("user.created", user(n), event_id=f"u-{n}") for n in range(41, 81)] + [
        event("wallet.linked", {"address": "0x" + f"{n:040x}", "user_id": n}, event_id=f"w-{n}")
        for n in range(41, 81)
    ]
    # the third repeats ten of the first (duplicates) and adds ten users
    third = first[:10] + [event("user.created", user(n), event_id=f"u-{n}") for n in range(81, 91)]
    return [first, second, third]


def _count(db: psycopg.Connection, sql: str) -> int:
    row = db.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_given_a_consumer_killed_mid_batch_when_restarted_then_every_event_is_stored_exactly_once(
    db: psycopg.Connection, tmp_path: Path
) -> None:
    reset_pool()
    # Given three queued batches
    queue = DirectoryQueue(tmp_path / "ingest")
    for number, events in enumerate(_batches(), start=1):
        batch = queued_batch(json.dumps({"events": events}), batch_id=f"batch-{number}")
        queue.send(batch.body, message_attributes(batch))
    # When a consumer process dies in the middle of the second batch
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASHING_CONSUMER, str(queue.root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == KILLED, crashed.stderr[-2000:]
    # Then the first batch is stored, nothing of the second, and its message is still in flight
    assert _count(db, "SELECT count(*) FROM ingest.batches") == 1
    assert _count(db, "SELECT count(*) FROM marketplace.users") == 40
    assert queue.depth() == {"ready": 1, "inflight": 1, "dead": 0}
    # When a new consumer starts and the dead one's message becomes visible again
    import functions.ingest.handler as consumer

    restarted = DirectoryQueue(queue.root, visibility_timeout_s=0)
    while drain_once(restarted, consumer.handler, CONTEXT, batch_size=1):
        pass
    # Then every event is stored exactly once, and every batch answered once
    assert restarted.depth() == {"ready": 0, "inflight": 0, "dead": 0}
    assert _count(db, "SELECT count(*) FROM marketplace.users") == 90
    assert _count(db, "SELECT count(*) FROM marketplace.wallets") == 40
    assert _count(db, "SELECT count(*) FROM ingest.events") == 90 + 40
    outcomes = {
        batch_id: (accepted, duplicates, rejected)
        for batch_id, accepted, duplicates, rejected in db.execute(
            "SELECT batch_id, accepted, duplicates, rejected FROM ingest.batches"
        )
    }
    assert outcomes == {"batch-1": (40, 0, 0), "batch-2": (80, 0, 0), "batch-3": (10, 10, 0)}


def test_given_a_message_redelivered_after_it_was_stored_then_nothing_changes(
    db: psycopg.Connection, tmp_path: Path
) -> None:
    # Given a batch stored once (its message's deletion lost: the consumer died right after commit)
    reset_pool()
    import functions.ingest.handler as consumer

    queue = DirectoryQueue(tmp_path / "ingest", visibility_timeout_s=0)
    batch = queued_batch(json.dumps({"events": _batches()[0]}), batch_id="batch-once")
    queue.send(batch.body, message_attributes(batch))
    queue.send(batch.body, message_attributes(batch))  # SQS is at-least-once: the same message twice
    # When the consumer drains the queue (a failed delivery would come back at once: visibility 0)
    settled = [drain_once(queue, consumer.handler, CONTEXT, batch_size=1) for _ in range(3)]
    # Then both deliveries were settled at their first receive: nothing retried, nothing dead-lettered
    assert settled == [1, 1, 0]
    assert queue.depth() == {"ready": 0, "inflight": 0, "dead": 0}
    # And it is applied once and answered once, with the first delivery's results
    assert _count(db, "SELECT count(*) FROM ingest.batches") == 1
    assert db.execute("SELECT accepted, duplicates FROM ingest.batches").fetchone() == (40, 0)
    assert _count(db, "SELECT count(*) FROM marketplace.users") == 40
    assert _count(db, "SELECT count(*) FROM ingest.events") == 40


def test_given_a_batch_delivered_twice_when_consumed_then_the_second_answers_the_first_outcome(
    db: psycopg.Connection, tmp_path: Path
) -> None:
    # Given one batch on the queue twice (at-least-once delivery), both received in one SQS event
    reset_pool()
    queue = DirectoryQueue(tmp_path / "ingest")
    events = [event("user.created", user(n), event_id=f"u-{n}") for n in range(1, 21)]
    batch = queued_batch(json.dumps({"events": events}), batch_id="batch-twice")
    for _ in range(2):
        queue.send(batch.body, message_attributes(batch))
    messages = queue.receive(10)
    records = SQSEvent(sqs_event(messages)).records
    # When the consumer takes each record in turn
    first, second = (consume_record(record) for record in records)
    # Then the second is answered from the first's record: the same outcome, nothing applied again
    assert (first.status, first.accepted, first.duplicates, first.rejected) == ("processed", 20, 0, 0)
    assert second == first
    assert _count(db, "SELECT count(*) FROM ingest.events") == 20
    reset_pool()


def test_given_postgres_unavailable_when_consumed_then_the_message_is_kept_for_a_retry(
    db: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the consumer pointed at a database that does not answer
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1")
    monkeypatch.setenv("TG_DB_CONNECT_TIMEOUT_S", "1")
    from shared.config import get_settings

    get_settings.cache_clear()
    reset_pool()
    import functions.ingest.handler as consumer

    queue = DirectoryQueue(tmp_path / "ingest", visibility_timeout_s=0, max_receives=2)
    batch = queued_batch(json.dumps({"events": _batches()[0][:1]}), batch_id="batch-retry")
    queue.send(batch.body, message_attributes(batch))
    # When it is consumed: the handler reports the message as failed, so it stays queued
    assert drain_once(queue, consumer.handler, CONTEXT) == 0
    assert queue.depth()["inflight"] == 1
    # and after the receive limit it goes to the dead letters, never dropped
    drain_once(queue, consumer.handler, CONTEXT)
    queue.receive()
    assert queue.depth() == {"ready": 0, "inflight": 0, "dead": 1}
    reset_pool()

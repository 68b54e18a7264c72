"""Issue 21 item 1: dead-lettered batches go back on the queue with `ticketguard ingest redrive`
(locally the directory queue's dead letters; in AWS SQS's dead-letter redrive, StartMessageMoveTask)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import psycopg
import pytest
from botocore.stub import Stubber

from shared.config import get_settings
from shared.db.connection import reset_pool
from shared.ingest.consumer import batch_outcome, message_attributes, queued_batch
from tests.fixtures.ingest import event, user
from tooling.cli import main
from tooling.local.gateway import LocalLambdaContext
from tooling.local.queue import DirectoryQueue, drain_once
from tooling.local.redrive import redrive_aws

CONTEXT = LocalLambdaContext("ingest", "test")
DLQ = "arn:aws:sqs:eu-west-1:123456789012:ticketguard-ingest-dead-letters.fifo"
QUEUE = "arn:aws:sqs:eu-west-1:123456789012:ticketguard-ingest.fifo"


def test_given_a_batch_dead_lettered_while_postgres_was_down_when_redriven_then_it_is_applied_once(
    database_url: str, db: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functions.ingest.handler as consumer

    # Given a batch whose every receive found PostgreSQL down: it is in the dead letters
    queue = DirectoryQueue(tmp_path / "ingest", visibility_timeout_s=0, max_receives=2)
    batch = queued_batch(json.dumps({"events": [event("user.created", user(61))]}), batch_id="dead-1")
    queue.send(batch.body, message_attributes(batch))
    pooled = get_settings().database_url
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1")
    monkeypatch.setenv("TG_DB_CONNECT_TIMEOUT_S", "1")
    get_settings.cache_clear()
    reset_pool()
    for _ in range(2):
        assert drain_once(queue, consumer.handler, CONTEXT) == 0
    queue.receive()
    assert queue.depth() == {"ready": 0, "inflight": 0, "dead": 1}
    # When PostgreSQL is back and the operator redrives the dead letters
    monkeypatch.setenv("DATABASE_URL", pooled)
    get_settings.cache_clear()
    reset_pool()
    assert main(["ingest", "redrive", "--queue-dir", str(tmp_path)]) == 0
    assert queue.depth() == {"ready": 1, "inflight": 0, "dead": 0}
    # Then the next drain applies it, once
    assert drain_once(queue, consumer.handler, CONTEXT) == 1
    assert queue.depth() == {"ready": 0, "inflight": 0, "dead": 0}
    assert batch_outcome(db, "dead-1").accepted == 1
    # and redriven again (a copy kept by mistake) it changes nothing
    queue.send(batch.body, message_attributes(batch))
    assert drain_once(queue, consumer.handler, CONTEXT) == 1
    assert db.execute("SELECT count(*) FROM marketplace.users").fetchone() == (1,)
    reset_pool()


def test_given_a_redrive_then_the_messages_go_after_what_is_queued_with_their_receive_count_reset(
    tmp_path: Path,
) -> None:
    queue = DirectoryQueue(tmp_path, visibility_timeout_s=0, max_receives=1)
    queue.send("old", {"batch_id": "old"})
    queue.receive()
    queue.receive()  # its visibility passed once: dead after one receive
    queue.send("new", {"batch_id": "new"})
    assert queue.depth() == {"ready": 1, "inflight": 0, "dead": 1}
    assert queue.redrive() == 1
    received = queue.receive(10)
    assert [(m.body, m.receive_count) for m in received] == [("new", 1), ("old", 1)]


def test_given_no_queue_dir_when_redrive_is_asked_then_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TG_LOCAL_QUEUE_DIR", raising=False)
    assert main(["ingest", "redrive"]) == 1


def test_given_the_aws_queues_when_redriven_then_sqs_is_asked_to_move_the_dead_letters_to_the_queue() -> None:
    # The request is checked against SQS's own API model by botocore (moto has no move tasks)
    client = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "handle-1"},
            {"SourceArn": DLQ, "DestinationArn": QUEUE, "MaxNumberOfMessagesPerSecond": 50},
        )
        result = redrive_aws(DLQ, QUEUE, rate=50, client=client)
        stub.assert_no_pending_responses()
    assert result == {"source": DLQ, "destination": QUEUE, "task_handle": "handle-1"}

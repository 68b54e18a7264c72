"""The local stand-in for the ingest FIFO queue: durable messages, one in flight at a time, redelivery
after the visibility timeout, dead letters after the receive limit, the SQS event Lambda receives."""

from __future__ import annotations

from pathlib import Path

from tooling.local.queue import DirectoryQueue, sqs_event


def test_given_two_messages_when_one_is_in_flight_then_the_next_waits_until_it_is_deleted(
    tmp_path: Path,
) -> None:
    queue = DirectoryQueue(tmp_path, visibility_timeout_s=60)
    queue.send("first", {"batch_id": "a"})
    queue.send("second", {"batch_id": "b"})
    [first] = queue.receive(1)
    assert first.body == "first"
    assert queue.receive(10) == []  # FIFO: nothing overtakes the message in flight
    queue.delete(first.receipt)
    [second] = queue.receive(10)
    assert second.body == "second" and second.receive_count == 1


def test_given_a_consumer_that_died_when_the_visibility_timeout_passes_then_the_message_returns(
    tmp_path: Path,
) -> None:
    queue = DirectoryQueue(tmp_path, visibility_timeout_s=0, max_receives=2)
    queue.send("batch", {"batch_id": "a"})
    assert [m.receive_count for m in queue.receive()] == [1]
    # a new queue object over the same directory: the messages are on disk, not in this process
    again = DirectoryQueue(tmp_path, visibility_timeout_s=0, max_receives=2)
    assert [m.receive_count for m in again.receive()] == [2]
    assert again.receive() == []
    assert again.depth() == {"ready": 0, "inflight": 0, "dead": 1}


def test_given_messages_when_delivered_then_the_event_is_lambdas_sqs_event(tmp_path: Path) -> None:
    queue = DirectoryQueue(tmp_path)
    message_id = queue.send("{}", {"batch_id": "b-1", "api_key_id": "k"})
    event = sqs_event(queue.receive())
    [record] = event["Records"]
    assert record["messageId"] == message_id and record["eventSource"] == "aws:sqs"
    assert record["messageAttributes"]["batch_id"]["stringValue"] == "b-1"
    assert record["attributes"]["MessageGroupId"] == "k"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"

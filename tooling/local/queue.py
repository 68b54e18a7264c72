"""The local stand-in for SQS (FIFO): a durable queue in a directory, drained by the same Lambda handler.

What `make run` needs from SQS, with SQS's semantics (at-least-once, visibility timeout, receive
count, dead letters after `max_receives`), and nothing of ours in memory:

- send: the message is written to a temporary file, fsynced, then renamed into `ready/`: a crash
  leaves either no message or a whole one;
- receive: the oldest messages are claimed by renaming them into `inflight/` (atomic: two consumers
  never get the same one), and none while another is in flight (FIFO, one message group: what the
  deployed queue does for one marketplace); its receive count goes up; `delete` (after the handler
  succeeded) removes it;
- a message in flight longer than the visibility timeout (its consumer died) goes back to `ready/`,
  or to `dead/` once it has been received `max_receives` times.

The drainer builds the SQS event Lambda receives (Records with messageId, receiptHandle, body,
messageAttributes, attributes.ApproximateReceiveCount) and calls the consumer's `handler`, which
answers `batchItemFailures` like the deployed one: those messages stay and come back.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.observability import logger
from tooling.local.logkeys import function_log_keys

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
QUEUE_ARN = "arn:aws:sqs:local:000000000000:ticketguard-local-ingest"


@dataclass(frozen=True)
class Message:
    message_id: str
    body: str
    attributes: dict[str, str]
    sent_at_ms: int
    receive_count: int
    receipt: str  # the file in inflight/


class DirectoryQueue:
    def __init__(self, root: Path, *, visibility_timeout_s: float = 60.0, max_receives: int = 5) -> None:
        self.root = root
        self.visibility_timeout_s = visibility_timeout_s
        self.max_receives = max_receives
        for part in ("ready", "inflight", "dead", "tmp"):
            (root / part).mkdir(parents=True, exist_ok=True)
        self.arrived = threading.Event()

    def _write(self, folder: str, name: str, record: dict[str, Any]) -> None:
        tmp = self.root / "tmp" / f"{name}.{uuid.uuid4().hex}"
        with tmp.open("w", encoding="utf-8") as file:
            json.dump(record, file)
            file.flush()
            os.fsync(file.fileno())
        tmp.replace(self.root / folder / name)

    def send(self, body: str, attributes: dict[str, str]) -> str:
        message_id = str(uuid.uuid4())
        sent_at_ms = int(time.time() * 1000)
        record = {
            "message_id": message_id,
            "body": body,
            "attributes": attributes,
            "sent_at_ms": sent_at_ms,
            "receive_count": 0,
        }
        self._write("ready", f"{time.time_ns():020d}-{message_id}.json", record)
        self.arrived.set()
        return message_id

    def receive(self, max_messages: int = 10) -> list[Message]:
        self._return_expired()
        received: list[Message] = []
        if any((self.root / "inflight").iterdir()):
            return received  # FIFO: the group's next message waits until the one in flight is settled
        for path in sorted((self.root / "ready").iterdir())[: max_messages * 2]:
            if len(received) == max_messages:
                break
            claimed = self.root / "inflight" / path.name
            try:
                path.rename(claimed)  # the claim: only one consumer's rename succeeds
            except FileNotFoundError:
                continue
            record = json.loads(claimed.read_text(encoding="utf-8"))
            record["receive_count"] += 1
            self._write("inflight", path.name, record)
            received.append(
                Message(
                    message_id=record["message_id"],
                    body=record["body"],
                    attributes=record["attributes"],
                    sent_at_ms=record["sent_at_ms"],
                    receive_count=record["receive_count"],
                    receipt=path.name,
                )
            )
        return received

    def delete(self, receipt: str) -> None:
        (self.root / "inflight" / receipt).unlink(missing_ok=True)

    def _return_expired(self) -> None:
        deadline = time.time() - self.visibility_timeout_s
        for path in (self.root / "inflight").iterdir():
            try:
                if path.stat().st_mtime > deadline:
                    continue
                record = json.loads(path.read_text(encoding="utf-8"))
                folder = "dead" if record["receive_count"] >= self.max_receives else "ready"
                path.rename(self.root / folder / path.name)
            except FileNotFoundError:
                continue
            if folder == "dead":
                logger.error(
                    "ingest message moved to the dead-letter folder",
                    extra={"message_id": record["message_id"], "receives": record["receive_count"]},
                )

    def redrive(self) -> int:
        """Every dead letter back on the queue, oldest first, as SQS's dead-letter redrive does: at the
        queue's end (after what is queued now), its receive count reset. The number moved."""
        moved = 0
        for path in sorted((self.root / "dead").iterdir()):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue  # another redrive took it
            record["receive_count"] = 0
            self._write("ready", f"{time.time_ns():020d}-{record['message_id']}.json", record)
            path.unlink(missing_ok=True)
            moved += 1
        if moved:
            self.arrived.set()
        return moved

    def depth(self) -> dict[str, int]:
        return {part: sum(1 for _ in (self.root / part).iterdir()) for part in ("ready", "inflight", "dead")}


def sqs_event(messages: list[Message]) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping delivers (one record per message)."""
    return {
        "Records": [
            {
                "messageId": m.message_id,
                "receiptHandle": m.receipt,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": str(m.receive_count),
                    "SentTimestamp": str(m.sent_at_ms),
                    "SenderId": "local-gateway",
                    "ApproximateFirstReceiveTimestamp": str(m.sent_at_ms),
                    "MessageGroupId": m.attributes.get("api_key_id", "local"),
                    "MessageDeduplicationId": m.attributes.get("batch_id", m.message_id),
                },
                "messageAttributes": {
                    name: {
                        "stringValue": value,
                        "dataType": "String",
                        "stringListValues": [],
                        "binaryListValues": [],
                    }
                    for name, value in m.attributes.items()
                },
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "local",
            }
            for m in messages
        ]
    }


def drain_once(queue: DirectoryQueue, handler: Handler, context: Any, *, batch_size: int = 10) -> int:
    """One receive -> handler -> delete round; the number of messages the handler settled."""
    messages = queue.receive(batch_size)
    if not messages:
        return 0
    try:
        with function_log_keys(context):  # under the consumer's name, whoever logged last
            answer = handler(sqs_event(messages), context)
    except Exception:
        # Lambda's unhandled error: every message of the batch comes back after the visibility timeout.
        with function_log_keys(context):
            logger.exception("the ingest consumer failed; its messages will be received again")
        return 0
    failed = {item["itemIdentifier"] for item in (answer or {}).get("batchItemFailures", [])}
    for message in messages:
        if message.message_id not in failed:
            queue.delete(message.receipt)
    return len(messages) - len(failed)


class QueueDrainer:
    """A thread that drains the queue as messages arrive (as the SQS event source mapping polls)."""

    def __init__(self, queue: DirectoryQueue, handler: Handler, context_factory: Callable[[], Any]) -> None:
        self.queue = queue
        self.handler = handler
        self.context_factory = context_factory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-queue-drainer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self.queue.arrived.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        # The drainer's own lines (dead letters, a vanished queue) under the consumer's name too.
        with function_log_keys(self.context_factory()):
            while not self._stop.is_set():
                try:
                    if drain_once(self.queue, self.handler, self.context_factory()):
                        continue
                except FileNotFoundError:
                    if self.queue.root.exists():
                        raise
                    # Its directory was removed under it (the local stack shut down first): nothing
                    # is left to drain; stop without a traceback.
                    logger.info("the local queue's directory is gone; its drainer stops")
                    return
                self.queue.arrived.wait(1.0)  # polls once a second for returned messages, like long polling
                self.queue.arrived.clear()

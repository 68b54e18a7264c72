"""The local runner's small runtime items of issue 21 (finding 4): the ingest drainer logs under its
own function's name, not the last API function's; the stack shuts down in order (the drainer stops
before its queue directory is removed), so Ctrl-C prints no traceback from the queue's thread."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.observability import logger
from tooling.local.gateway import LocalLambdaContext, queue_consumers
from tooling.local.queue import DirectoryQueue, QueueDrainer, drain_once
from tooling.local.services import LocalServices


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Exceptions that escaped a thread (what printed the traceback on Ctrl-C)."""
    escaped: list[BaseException] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            escaped.append(args.exc_value)

    monkeypatch.setattr(threading, "excepthook", hook)
    return escaped


def _records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]


def test_given_an_api_function_logged_last_when_the_ingest_consumer_fails_then_its_line_says_ingest(
    tmp_path: Path, captured_logs: io.StringIO
) -> None:
    # Given the score function was the last to set the process-wide Lambda keys (as in `make run`)
    @logger.inject_lambda_context
    def score(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {}

    score({}, LocalLambdaContext("score", "req-score"))
    # And a queued batch whose consumer fails
    queue = DirectoryQueue(tmp_path / "ingest")
    queue.send("{}", {"batch_id": "b-1"})

    def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("consumer failed")

    # When the drainer runs it
    drain_once(queue, failing, LocalLambdaContext("ingest", "req-ingest"))
    # Then the error is logged under the ingest function's name and request, not the score function's
    [failure] = [r for r in _records(captured_logs) if "ingest consumer failed" in str(r.get("message"))]
    assert failure["function_name"] == "ticketguard-ingest"
    assert failure["function_request_id"] == "req-ingest"
    # And the keys were this thread's for the call only: the process-wide ones are untouched
    logger.info("after")
    assert _records(captured_logs)[-1]["function_name"] == "ticketguard-score"


def test_given_the_drainer_running_when_its_queue_directory_is_removed_then_it_stops_without_a_traceback(
    tmp_path: Path, thread_errors: list[BaseException]
) -> None:
    queue = DirectoryQueue(tmp_path / "ingest")
    drainer = QueueDrainer(queue, lambda event, context: {}, lambda: LocalLambdaContext("ingest", "r"))
    drainer.start()
    # When the directory goes (the stack's temporary directory removed under it)
    import shutil

    shutil.rmtree(tmp_path / "ingest")
    queue.arrived.set()
    drainer._thread.join(5)
    # Then the drainer stopped, and nothing escaped its thread
    assert not drainer._thread.is_alive()
    assert thread_errors == []


def test_given_the_local_stack_with_its_queue_drainer_when_it_closes_then_the_drainer_stops_first(
    services: LocalServices, tmp_path: Path, thread_errors: list[BaseException]
) -> None:
    # Given a stack (on the session's servers) whose queue is drained, wired as `make run` wires it
    stack = LocalServices(database_url=services.database_url, redis_url=services.redis_url, workdir=tmp_path)
    stack.start()
    with contextlib.ExitStack() as exits:
        queues = exits.enter_context(queue_consumers(stack.queue_dir))
        stack.on_close(exits.close)
        queues["ingest"].send("{}", {"batch_id": f"b-{uuid.uuid4()}"})
        drainers = [t for t in threading.enumerate() if t.name == "ingest-queue-drainer"]
        assert drainers
        # When the stack closes (what its SIGINT handler does on Ctrl-C)
        stack.close()
        time.sleep(1.5)  # a drainer left running would poll the removed directory within a second
    # Then the drainer had stopped before the directory was removed, and nothing escaped a thread
    assert not any(t.is_alive() for t in drainers)
    assert not stack.queue_dir.exists()
    assert thread_errors == []

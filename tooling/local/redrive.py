"""`ticketguard ingest redrive`: the ingest queue's dead letters back on the queue, once their cause is
fixed (the dead-letter alarm says to). A batch reaches the dead letters only when PostgreSQL was
unavailable for all its receives (or the consumer has a bug): nothing an event contains sends it
there (shared/ingest/consumer.py). Redriven, a batch is applied as if it had just arrived; one that
was applied already is answered from the ledger, never applied twice.

- Locally: the directory queue's `dead/` back into `ready/` (--queue-dir, or TG_LOCAL_QUEUE_DIR).
- In AWS: SQS's dead-letter redrive, StartMessageMoveTask from the dead-letter queue to the ingest
  queue (FIFO to FIFO; the task moves oldest first, at the queue's end). The caller needs the
  IngestRedrive managed policy of the stack (infra/ingest.py): the move-task actions, receive and
  delete on the dead-letter queue, send on the ingest queue, and the queues' KMS key.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from shared.errors import ConfigurationError


def redrive_local(queue_dir: Path) -> dict[str, Any]:
    from tooling.local.queue import DirectoryQueue

    root = queue_dir / "ingest"
    if not (root / "dead").is_dir():
        raise ConfigurationError(f"no ingest queue under {queue_dir} (its dead letters live in ingest/dead)")
    queue = DirectoryQueue(root)
    moved = queue.redrive()
    return {"queue": str(root), "redriven": moved, "depth": queue.depth()}


def redrive_aws(
    dead_letters_arn: str, queue_arn: str, *, rate: int | None = None, client: Any = None
) -> dict[str, Any]:
    """Start SQS's move task from the dead-letter queue to the ingest queue; its handle."""
    if client is None:
        import boto3

        client = boto3.client("sqs", region_name=dead_letters_arn.split(":")[3])
    request: dict[str, Any] = {"SourceArn": dead_letters_arn, "DestinationArn": queue_arn}
    if rate is not None:
        request["MaxNumberOfMessagesPerSecond"] = rate
    task = client.start_message_move_task(**request)
    return {"source": dead_letters_arn, "destination": queue_arn, "task_handle": task["TaskHandle"]}


def ingest_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketguard ingest", description="the ingest queue's operations")
    sub = parser.add_subparsers(dest="action", required=True)
    redrive = sub.add_parser("redrive", help="move the dead-lettered batches back onto the ingest queue")
    redrive.add_argument(
        "--queue-dir", type=Path, help="the local queues' directory (default: TG_LOCAL_QUEUE_DIR)"
    )
    redrive.add_argument(
        "--aws", action="store_true", help="redrive the deployed SQS dead-letter queue instead"
    )
    redrive.add_argument(
        "--dead-letters-arn", help="with --aws: the ingest dead-letter queue's ARN (a stack output)"
    )
    redrive.add_argument("--queue-arn", help="with --aws: the ingest queue's ARN (a stack output)")
    redrive.add_argument("--rate", type=int, help="with --aws: messages moved per second (default: SQS's)")
    args = parser.parse_args(argv)
    if args.aws:
        if not (args.dead_letters_arn and args.queue_arn):
            parser.error("--aws needs --dead-letters-arn and --queue-arn")
        result = redrive_aws(args.dead_letters_arn, args.queue_arn, rate=args.rate)
    else:
        queue_dir = args.queue_dir or os.environ.get("TG_LOCAL_QUEUE_DIR")
        if not queue_dir:
            raise ConfigurationError(
                "give --queue-dir or set TG_LOCAL_QUEUE_DIR (where `make run` keeps its queues)"
            )
        result = redrive_local(Path(queue_dir))
    print(json.dumps(result, indent=2))
    return 0

"""The ingest queue's consumer (SQS FIFO event source, partial-batch failure reporting): each message is a
batch POST /api/v1/events queued -> shared.ingest.consumer stores it exactly once. A message whose
store failed (PostgreSQL unavailable) is reported in batchItemFailures: SQS delivers it again, and
after the queue's receive limit moves it to the dead-letter queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

from shared.ingest.consumer import consume_record
from shared.jobs.entry import job_handler

# A FIFO queue (infra/ingest.py): the first failed batch stops the rest of the invocation's batches,
# reported failed too, so that no later batch of the marketplace overtakes it.
processor = SqsFifoPartialProcessor()


def _run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=consume_record, processor=processor, context=context
        )
    )


handler = job_handler(_run)

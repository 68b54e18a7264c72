"""Each local function's log lines under its own name.

On Lambda a process runs one function, and Powertools' `inject_lambda_context` puts its name and
request id on the logger for the whole process. The local runner runs every function in one process,
in many threads at once: those process-wide keys are the last invocation's, whichever function that
was (the ingest drainer's errors came out under the score or metrics function's name). Here each
invocation, and the drainer's own lines between invocations, carry their function's keys as
thread-local keys (Powertools' `thread_safe_append_keys`, which win over the process-wide ones). Their
EMF metrics are per thread too (tooling/local/metricsets.py).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from shared.observability import logger, metrics
from tooling.local.metricsets import metrics_per_thread

Handler = Callable[[dict[str, Any], Any], Any]


def _keys(context: Any) -> dict[str, Any]:
    """The keys `inject_lambda_context` writes (Powertools' LambdaContextModel), from `context`."""
    return {
        "function_name": context.function_name,
        "function_memory_size": context.memory_limit_in_mb,
        "function_arn": context.invoked_function_arn,
        "function_request_id": context.aws_request_id,
    }


@contextlib.contextmanager
def function_log_keys(context: Any) -> Iterator[None]:
    """This thread's log lines carry `context`'s function inside the block (the outer keys after it)."""
    before = dict(logger.thread_safe_get_current_keys())
    keys = _keys(context)
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(keys))
        restored = {name: before[name] for name in keys if name in before}
        if restored:
            logger.thread_safe_append_keys(**restored)


def under_own_name(handler: Handler) -> Handler:
    """`handler`, logging under the name of the context it is called with, its metrics its own."""
    metrics_per_thread(metrics)

    @functools.wraps(handler)
    def run(event: dict[str, Any], context: Any) -> Any:
        with function_log_keys(context):
            return handler(event, context)

    return run

"""Powertools Logger, Tracer and Metrics, set up once for every function and the local runner.

Every log record passes through one PII filter (`redact`): emails, IP addresses and wallet
addresses never reach a log line in clear; they are replaced by a salted hash prefix so that an
investigator can still correlate lines about the same subject.

The Tracer exists only where tracing is on (in Lambda, unless POWERTOOLS_TRACE_DISABLED: Powertools'
own rule): Powertools builds its X-Ray provider even when disabled, and importing the X-Ray SDK (and
the botocore it pulls in) was a third of the scoring function's cold start (issue 29). Elsewhere
`tracer` is `Untraced`, which does nothing, with the same two members the functions use. Where it is
on, the Tracer patches botocore alone (the AWS calls, X-Ray's service map): Powertools' default patches
every library X-Ray knows that is installed, importing each (httpx, requests ...) at cold start.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

from shared.names import NAMESPACE, SERVICE
from shared.observability.pii import redact


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools JSON formatter whose output is scrubbed of PII before it is written."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


TRACED_MODULES = ("botocore",)


class _NoSegments:
    def in_subsegment(self, name: str) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


class Untraced:
    """`tracer` where tracing is off: `capture_lambda_handler` hands the handler back as it is, and
    `provider.in_subsegment` opens nothing."""

    provider = _NoSegments()

    def capture_lambda_handler(self, lambda_handler: Callable[..., Any] | None = None, **_: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda handler: handler)


def tracing_on() -> bool:
    """Powertools' rule (Tracer._is_tracer_disabled): off when POWERTOOLS_TRACE_DISABLED is true, outside
    Lambda (no LAMBDA_TASK_ROOT) and under SAM local or Chalice."""
    if resolve_truthy_env_var_choice(env=os.getenv(constants.TRACER_DISABLED_ENV, "false")):
        return False
    emulated = os.getenv(constants.SAM_LOCAL_ENV) or os.getenv(constants.CHALICE_LOCAL_ENV)
    return bool(os.getenv(constants.LAMBDA_TASK_ROOT_ENV)) and not emulated


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
tracer: Tracer | Untraced = (
    Tracer(service=SERVICE, patch_modules=TRACED_MODULES) if tracing_on() else Untraced()
)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def segment(name: str) -> Any:
    """An X-Ray subsegment `## name` around one stage of a request (a no-op when tracing is off)."""
    return tracer.provider.in_subsegment(f"## {name}")


__all__ = ["NAMESPACE", "SERVICE", "logger", "metrics", "redact", "segment", "tracer"]

"""Powertools Logger, Tracer and Metrics, set up once for every function and the local runner.

Every log record passes through one PII filter (`redact`): emails, IP addresses and wallet
addresses never reach a log line in clear; they are replaced by a salted hash prefix so that an
investigator can still correlate lines about the same subject.
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from shared.names import NAMESPACE, SERVICE
from shared.observability.pii import redact


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools JSON formatter whose output is scrubbed of PII before it is written."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def segment(name: str) -> Any:
    """An X-Ray subsegment `## name` around one stage of a request (a no-op when tracing is off)."""
    return tracer.provider.in_subsegment(f"## {name}")


__all__ = ["NAMESPACE", "SERVICE", "logger", "metrics", "redact", "segment", "tracer"]

"""Scheduled retraining (EventBridge, Sundays 02:00 UTC, input `{"cadence": "biweekly"}`): trains on even
ISO weeks only; without a cadence (an emergency invocation) it always trains. Needs the ML stack and a C
toolchain, so it runs as a container-image function (see shared/ml/retrain.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.config import get_settings
from shared.db import connect
from shared.errors import TicketGuardError
from shared.observability import logger, metrics

STATEMENT_TIMEOUT_MS = 600_000  # the training-set query reads weeks of transactions


class RetrainEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cadence: str | None = None
    time: datetime | None = None  # EventBridge scheduled events carry it; default now
    weeks: int = Field(6, ge=3, le=52)


class RetrainResponse(BaseModel):
    status: str  # trained | skipped | failed
    reason: str
    version: str | None = None
    promoted: bool | None = None
    gate_reasons: list[str] = []
    test_rows: int | None = None
    test_frauds: int | None = None
    auc_pr: float | None = None


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        request = RetrainEvent.model_validate(event or {})
    except ValidationError as exc:
        metrics.add_metric(name="RetrainFailed", unit=MetricUnit.Count, value=1)
        return RetrainResponse(status="failed", reason=f"bad event: {exc.errors()[0]['msg']}").model_dump()
    from shared.ml.retrain import retrain, should_run

    now = (request.time or datetime.now(UTC)).astimezone(UTC)
    run, why = should_run(now, request.cadence)
    if not run:
        logger.info("retraining skipped", extra={"reason": why})
        metrics.add_metric(name="RetrainSkipped", unit=MetricUnit.Count, value=1)
        return RetrainResponse(status="skipped", reason=why).model_dump()
    settings = get_settings()
    architectures = tuple(os.environ.get("TG_RETRAIN_ARCHITECTURES", "x86_64,aarch64").split(","))
    try:
        with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS) as conn:
            result = retrain(
                conn,
                now=now,
                weeks=request.weeks,
                current_model_dir=Path(settings.model_dir) if settings.model_dir else None,
                architectures=architectures,
                bucket=settings.archive_bucket,
            )
    except TicketGuardError as exc:
        logger.error("retraining failed", extra={"error": exc.code, "reason": exc.message})
        metrics.add_metric(name="RetrainFailed", unit=MetricUnit.Count, value=1)
        return RetrainResponse(status="failed", reason=exc.message).model_dump()
    metrics.add_metric(name="RetrainPromoted", unit=MetricUnit.Count, value=int(result.promoted))
    metrics.add_metric(name="RetrainTestAucPr", unit=MetricUnit.NoUnit, value=result.auc_pr)
    logger.info("retrained", extra={"version": result.version, "promoted": result.promoted})
    return RetrainResponse(
        status="trained",
        reason=why,
        version=result.version,
        promoted=result.promoted,
        gate_reasons=result.gate_reasons,
        test_rows=result.test_rows,
        test_frauds=result.test_frauds,
        auc_pr=result.auc_pr,
    ).model_dump()

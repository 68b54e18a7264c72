"""Retraining's last step (infra/retrain.py): a promoted candidate is fetched, verified and loaded as
scoring will load it, then it runs in shadow (TG_RETRAIN_PUBLISH_TO=shadow, as deployed: the registry's
ROLLOUT.json names it) or the registry's CURRENT names it (`serve`, the default); functions follow
within the registry TTL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.config import get_settings
from shared.errors import ConfigurationError
from shared.jobs.entry import job_handler
from shared.jobs.retrain import publish_step, record_publish_metrics
from shared.model.remote import DEFAULT_CACHE_DIR, Registry
from shared.observability import logger


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    if not settings.model_registry:
        raise ConfigurationError("TG_MODEL_REGISTRY is not set: nowhere to publish the model")
    result = publish_step(
        event,
        registry=Registry.parse(settings.model_registry),
        s3=boto3.client("s3"),
        cache_dir=Path(settings.model_cache_dir) if settings.model_cache_dir else DEFAULT_CACHE_DIR,
        first=settings.retrain_publish_to,
    )
    record_publish_metrics(result)
    logger.info("retraining published", extra={"result": result})
    return result

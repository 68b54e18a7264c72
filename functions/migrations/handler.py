"""CloudFormation custom resource (CDK `cr.Provider`): Create/Update apply the SQL migrations
(idempotent, under an advisory lock); Delete does nothing, the schema outlives the resource. A failure
raises: the framework reports it, CloudFormation rolls the deploy back."""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent, event_source
from pydantic import BaseModel, ConfigDict

from shared.db import apply_migrations, connect
from shared.db.timeouts import STATEMENT_TIMEOUT_MS
from shared.observability import logger

PHYSICAL_ID = "ticketguard-schema-migrations"


class _Request(BaseModel):
    """What this handler relies on, validated (Powertools' event class reads, it does not check)."""

    model_config = ConfigDict(extra="ignore")

    RequestType: Literal["Create", "Update", "Delete"]


@logger.inject_lambda_context
@event_source(data_class=CloudFormationCustomResourceEvent)
def handler(event: CloudFormationCustomResourceEvent, context: Any) -> dict[str, Any]:
    if _Request.model_validate(event.raw_event).RequestType == "Delete":
        return {"PhysicalResourceId": event.physical_resource_id or PHYSICAL_ID}
    with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS["migrations"]) as conn:
        applied = apply_migrations(conn)
    fingerprint = (event.resource_properties or {}).get("Fingerprint")
    logger.info("migrations applied", extra={"applied": applied, "fingerprint": fingerprint})
    return {
        "PhysicalResourceId": PHYSICAL_ID,
        "Data": {"Applied": ",".join(applied) or "none", "Count": len(applied)},
    }

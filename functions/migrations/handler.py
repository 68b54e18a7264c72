"""CloudFormation custom resource (behind the CDK `cr.Provider` framework): apply the SQL migrations.

Create/Update run `shared.db.migrations.apply_migrations` (idempotent, under an advisory lock);
Delete does nothing: the schema outlives the stack's custom resource. A failure raises, which the
framework reports to CloudFormation, which rolls the deploy back.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.db import apply_migrations, connect
from shared.observability import logger

PHYSICAL_ID = "ticketguard-schema-migrations"
STATEMENT_TIMEOUT_MS = 240_000  # migrations may rewrite tables; the function's own timeout is 300 s


class ProviderEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    RequestType: Literal["Create", "Update", "Delete"]
    PhysicalResourceId: str | None = None
    ResourceProperties: dict[str, Any] = {}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = ProviderEvent.model_validate(event)
    if request.RequestType == "Delete":
        return {"PhysicalResourceId": request.PhysicalResourceId or PHYSICAL_ID}
    with connect(statement_timeout_ms=STATEMENT_TIMEOUT_MS) as conn:
        applied = apply_migrations(conn)
    logger.info(
        "migrations applied",
        extra={"applied": applied, "fingerprint": request.ResourceProperties.get("Fingerprint")},
    )
    return {
        "PhysicalResourceId": PHYSICAL_ID,
        "Data": {"Applied": ",".join(applied) or "none", "Count": len(applied)},
    }

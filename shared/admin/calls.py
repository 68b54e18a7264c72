"""One admin call: authorize, do the work, and write its audit row in the same transaction.

Every route of the admin surface runs through `admin_call`: the caller is checked (shared.admin.auth),
the work runs in one transaction as the service role (`SET LOCAL ROLE ticketguard_service`: no UPDATE
or DELETE on the audit log, migration 0540), and the audit row (who, role, action, target, before,
after, source IP, request id) commits with the change or not at all. A refused call (403 for an
authenticated caller, or a domain error such as 404/409) is recorded too, in its own transaction,
with `details.outcome` = `denied` or `error`; a call without a valid token (401) names nobody and
writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pydantic import BaseModel

from shared.admin.auth import Permission, Principal, authorize, claim_list
from shared.audit.log import AuditEntry, record
from shared.db import get_pool
from shared.errors import Forbidden, TicketGuardError, Unauthorized

SERVICE_ROLE = "ticketguard_service"


@dataclass
class Outcome:
    """What a call answers (`body`), and what its audit row says about it."""

    body: Any
    target: str | None = None
    before: Any = None
    after: Any = None
    details: dict[str, Any] = field(default_factory=dict)
    status: int = 200


Work = Callable[[psycopg.Connection[Any], Principal], Outcome]


def as_json(value: Any) -> Any:
    """Pydantic models (and lists of them) as JSON values, for a body or an audit row."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    return value


@contextmanager
def service_transaction() -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection in one transaction, as the service role."""
    with get_pool().connection() as conn, conn.transaction():
        conn.execute(f"SET LOCAL ROLE {SERVICE_ROLE}")
        yield conn


def _entry(principal: Principal, action: str, outcome: Outcome) -> AuditEntry:
    return AuditEntry(
        actor=principal.username,
        role=principal.role,
        action=action,
        target=outcome.target,
        before=as_json(outcome.before),
        after=as_json(outcome.after),
        source_ip=principal.source_ip,
        request_id=principal.request_id,
        details={"outcome": "ok", **outcome.details},
    )


def _record_refusal(event: dict[str, Any], action: str, target: str | None, exc: TicketGuardError) -> None:
    """The audit row of a refused call, from what the (verified) token says of its caller."""
    context = event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    entry = AuditEntry(
        actor=str(claims.get("cognito:username") or claims.get("sub") or "unknown"),
        role=",".join(claim_list(claims.get("cognito:groups"))) or None,
        action=action,
        target=target,
        source_ip=(context.get("identity") or {}).get("sourceIp"),
        request_id=context.get("requestId"),
        details={
            "outcome": "denied" if isinstance(exc, Forbidden) else "error",
            "code": exc.code,
            "message": exc.message,
        },
    )
    with service_transaction() as conn:
        record(conn, entry)


def admin_call(
    event: dict[str, Any], permission: Permission, action: str, work: Work, *, target: str | None = None
) -> Outcome:
    """Run `work` for the caller of `event` if its role grants `permission`; audit it as `action`."""
    try:
        principal = authorize(event, permission)
        with service_transaction() as conn:
            outcome = work(conn, principal)
            outcome.target = outcome.target or target
            record(conn, _entry(principal, action, outcome))
    except Unauthorized:
        raise
    except TicketGuardError as exc:
        _record_refusal(event, action, target, exc)
        raise
    return outcome

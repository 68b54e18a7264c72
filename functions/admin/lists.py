"""Blocklist entries, SIEM findings and SOAR actions."""

from __future__ import annotations

from typing import Any

import psycopg
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.admin.common import answer, request_of
from shared.admin import lists
from shared.admin.auth import Permission, Principal
from shared.admin.calls import Outcome
from shared.api.admin_models import (
    ActionQuery,
    BlockQuery,
    BlockRequest,
    FindingQuery,
    UnblockQuery,
    parse_query,
)
from shared.api.http import parse_json_body
from shared.siem.store import list_findings
from shared.soar.actions import list_actions
from shared.soar.blocklist import list_entries

router = Router()


@router.get("/api/v1/admin/blocklist")
def list_blocklist() -> Response[str]:
    query = parse_query(router.current_event.raw_event, BlockQuery)
    return answer(
        router,
        Permission.READ,
        "blocklist.list",
        lambda conn, who: Outcome(
            {"entries": list_entries(conn, **query.model_dump())}, details=query.model_dump()
        ),
    )


@router.post("/api/v1/admin/blocklist")
def add_block() -> Response[str]:
    request = parse_json_body(request_of(router), BlockRequest)

    def work(conn: psycopg.Connection[Any], who: Principal) -> Outcome:
        before, after, synced = lists.add_block(
            conn,
            request.kind,
            request.value,
            reason=request.reason,
            expires_at=request.expires_at,
            by=who.username,
        )
        return Outcome(after, f"{after.kind}:{after.value}", before, after, {"waf": synced}, status=201)

    return answer(router, Permission.LISTS, "blocklist.add", work, target=f"{request.kind}:{request.value}")


@router.delete("/api/v1/admin/blocklist")
def remove_block() -> Response[str]:
    query = parse_query(router.current_event.raw_event, UnblockQuery)

    def work(conn: psycopg.Connection[Any], who: Principal) -> Outcome:
        removed, synced = lists.remove_block(conn, query.kind, query.value)
        return Outcome(
            {"removed": removed}, f"{removed.kind}:{removed.value}", removed, None, {"waf": synced}
        )

    return answer(router, Permission.LISTS, "blocklist.remove", work, target=f"{query.kind}:{query.value}")


@router.get("/api/v1/admin/findings")
def get_findings() -> Response[str]:
    query = parse_query(router.current_event.raw_event, FindingQuery)
    return answer(
        router,
        Permission.READ,
        "findings.list",
        lambda conn, who: Outcome(
            {"findings": list_findings(conn, **query.model_dump())}, details=query.model_dump(mode="json")
        ),
    )


@router.get("/api/v1/admin/actions")
def get_actions() -> Response[str]:
    query = parse_query(router.current_event.raw_event, ActionQuery)
    return answer(
        router,
        Permission.READ,
        "actions.list",
        lambda conn, who: Outcome(
            {"actions": list_actions(conn, **query.model_dump())}, details=query.model_dump(mode="json")
        ),
    )


@router.post("/api/v1/admin/actions/<action_id>/undo")
def undo_action(action_id: str) -> Response[str]:
    number = _positive(action_id, "action_id")

    def work(conn: psycopg.Connection[Any], who: Principal) -> Outcome:
        before, after = lists.undo_action(conn, number, who.username)
        return Outcome(after, before=before, after=after)

    return answer(router, Permission.ACTIONS, "actions.undo", work, target=f"action:{number}")


def _positive(text: str, field: str) -> int:
    from shared.errors import ValidationFailed

    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise ValidationFailed(f"{field} must be a positive integer", field=field)
    return int(text)

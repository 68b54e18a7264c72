"""The session and the review queue."""

from __future__ import annotations

from typing import Any

import psycopg
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.admin.common import answer, request_of
from shared.admin import review
from shared.admin.auth import Permission, Principal
from shared.admin.calls import Outcome
from shared.api.admin_models import ResolveRequest, ReviewQuery, parse_query
from shared.api.http import parse_json_body

router = Router()


def _session(conn: psycopg.Connection[Any], who: Principal) -> Outcome:
    permissions = sorted(p.value for p in Permission if who.may(p))
    body = {"username": who.username, "roles": list(who.roles), "permissions": permissions}
    return Outcome(
        {**body, "expires_at": who.expires_at, "auth_time": who.auth_time, "source_ip": who.source_ip}
    )


@router.get("/api/v1/admin/session")
def get_session() -> Response[str]:
    return answer(router, Permission.READ, "session.read", _session)


@router.get("/api/v1/admin/review")
def list_review() -> Response[str]:
    query = parse_query(router.current_event.raw_event, ReviewQuery)
    return answer(
        router,
        Permission.READ,
        "review.list",
        lambda conn, who: Outcome(
            {"items": review.list_queue(conn, **query.model_dump())}, details=query.model_dump(mode="json")
        ),
    )


@router.post("/api/v1/admin/review/<transaction_id>/claim")
def claim_review(transaction_id: str) -> Response[str]:
    def work(conn: psycopg.Connection[Any], who: Principal) -> Outcome:
        before, after = review.claim(conn, transaction_id, who.username)
        return Outcome(after, before=before, after=after)

    return answer(router, Permission.REVIEW, "review.claim", work, target=f"transaction:{transaction_id}")


@router.post("/api/v1/admin/review/<transaction_id>/resolve")
def resolve_review(transaction_id: str) -> Response[str]:
    request = parse_json_body(request_of(router), ResolveRequest)

    def work(conn: psycopg.Connection[Any], who: Principal) -> Outcome:
        before, after = review.resolve(conn, transaction_id, who.username, request.resolution, request.note)
        return Outcome({**after["item"], "label": after["label"]}, before=before, after=after)

    return answer(router, Permission.REVIEW, "review.resolve", work, target=f"transaction:{transaction_id}")

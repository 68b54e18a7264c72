"""Label upload, the audit log (search, verify) and model versions (list, roll back)."""

from __future__ import annotations

import base64
from typing import Any

import psycopg
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.admin.common import answer, request_of
from shared.admin import labels, models
from shared.admin.auth import Permission, Principal
from shared.admin.calls import Outcome
from shared.api.admin_models import AuditQuery, RollbackRequest, parse_query
from shared.api.errors import PayloadTooLarge, UnsupportedMediaType
from shared.api.http import header, parse_json_body
from shared.audit.anchor import read_anchor
from shared.audit.log import search, verify

router = Router()
MAX_CSV_BYTES = 1_000_000


def _csv_body() -> bytes:
    event = request_of(router)
    media_type = (header(event, "content-type") or "").split(";", 1)[0].strip().lower()
    if media_type != "text/csv":
        raise UnsupportedMediaType(f"send the labels as text/csv, not {media_type or '(no content type)'}")
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else str(raw).encode()
    if len(body) > MAX_CSV_BYTES:
        raise PayloadTooLarge(f"request body exceeds {MAX_CSV_BYTES} bytes")
    return body


@router.post("/api/v1/admin/labels")
def upload_labels() -> Response[str]:
    body = _csv_body()

    def work(conn: psycopg.Connection[Any], who: Principal) -> Outcome:
        report = labels.store(conn, body)
        summary = {"rows": report.rows, "stored": report.stored, "rejected": len(report.rejected)}
        return Outcome(
            report.__dict__, f"labels:{report.sha256[:16]}", None, summary, {"sha256": report.sha256}
        )

    return answer(router, Permission.LABEL, "labels.upload", work)


@router.get("/api/v1/admin/audit")
def search_audit() -> Response[str]:
    query = parse_query(router.current_event.raw_event, AuditQuery)
    return answer(
        router,
        Permission.READ,
        "audit.search",
        lambda conn, who: Outcome(
            {"rows": search(conn, **query.model_dump())}, details=query.model_dump(mode="json")
        ),
    )


@router.get("/api/v1/admin/audit/verify")
def verify_audit() -> Response[str]:
    anchor = read_anchor()

    def work(conn: psycopg.Connection[Any], who: Principal) -> Outcome:
        report = verify(conn, anchor=anchor)
        return Outcome(report, details={"ok": report.ok, "rows": report.rows, "head_seq": report.head_seq})

    return answer(router, Permission.READ, "audit.verify", work)


@router.get("/api/v1/admin/models")
def get_models() -> Response[str]:
    return answer(router, Permission.READ, "models.list", lambda conn, who: Outcome(models.state()))


@router.post("/api/v1/admin/models/rollback")
def rollback_model() -> Response[str]:
    request = parse_json_body(request_of(router), RollbackRequest)

    def work(conn: psycopg.Connection[Any], who: Principal) -> Outcome:
        before, after = models.roll_back(who.username, request.reason, request.to)
        return Outcome(after, f"model:{after['current']}", before, after, {"reason": request.reason})

    return answer(router, Permission.ROLLBACK, "models.rollback", work)

"""The HTTP shapes of the admin surface's requests (/api/v1/admin/...): query strings and bodies."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.errors import ValidationFailed

Query = TypeVar("Query", bound=BaseModel)
_TEXT = r"^[A-Za-z0-9_.:@-]+$"


def parse_query(event: dict[str, Any], model: type[Query]) -> Query:
    """The query string as `model`; a parameter given twice is refused (which one would count?)."""
    for name, values in (event.get("multiValueQueryStringParameters") or {}).items():
        if len(values or ()) > 1:
            raise ValidationFailed(f"{name} is given {len(values)} times: give it once", field=name)
    return model.model_validate(event.get("queryStringParameters") or {})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReviewQuery(_Strict):
    status: Literal["open", "claimed", "resolved", "all"] = "open"
    decision: Literal["MANUAL_REVIEW", "REQUIRE_2FA"] | None = None
    since: AwareDatetime | None = None
    limit: int = Field(50, ge=1, le=500)


class ResolveRequest(_Strict):
    resolution: Literal["fraud", "legitimate"]
    note: str | None = Field(None, max_length=2000)


class BlockQuery(_Strict):
    kind: Literal["wallet", "ip", "challenge"] | None = None
    include_expired: bool = False
    limit: int = Field(200, ge=1, le=1000)


class BlockRequest(_Strict):
    kind: Literal["wallet", "ip", "challenge"]
    value: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    expires_at: AwareDatetime | None  # required; null: never


class UnblockQuery(_Strict):
    kind: Literal["wallet", "ip", "challenge"]
    value: str = Field(min_length=1, max_length=64)


class FindingQuery(_Strict):
    status: Literal["open", "handled", "dismissed"] | None = None
    rule: Literal["brute_force", "fraud_ring", "ddos", "admin_mfa"] | None = None
    since: AwareDatetime | None = None
    before_id: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=500)


class ActionQuery(_Strict):
    finding_id: int | None = Field(None, ge=1)
    action: Literal["block_ip", "blacklist_wallet", "challenge_ip", "page", "disable_admin"] | None = None
    status: Literal["pending", "done", "dry_run", "skipped", "failed", "undone", "expired"] | None = None
    since: AwareDatetime | None = None
    before_id: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=500)


class AuditQuery(_Strict):
    actor: str | None = Field(None, max_length=256)
    action: str | None = Field(None, max_length=128, pattern=_TEXT)
    target: str | None = Field(None, max_length=256)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    before_seq: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=500)


class RollbackRequest(_Strict):
    reason: str = Field(min_length=1, max_length=500)
    to: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")

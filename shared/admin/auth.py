"""Who may call an admin route: the one authorization check, the same locally and in AWS.

The caller signs in to the admins' Cognito user pool (TOTP MFA) and sends its ID token in the
`Authorization` header. In AWS the API's Cognito authorizer verifies the token (signature, issuer,
audience, expiry) before any function runs and answers 401 itself when it fails; locally the gateway
does the same against the local issuer's key (tooling/local/issuer.py signs the same token shape). Both
hand the function the token's claims in `requestContext.authorizer.claims`, and this module decides
from them, the same way in both places:

- no claims (no authorizer ran), a token that is not an ID token, from another issuer or client, or
  past its expiry or the session bound (a refresh cannot stretch a sign-in past it) -> 401
  `unauthorized`;
- a sign-in without MFA (`amr` lacks "mfa") -> 403 `mfa_required`;
- a source IP outside the admin allow-list -> 403 `ip_not_allowed`;
- a role (from `cognito:groups`) without the permission the route needs -> 403 `forbidden`.

API Gateway's REST authorizer flattens list claims to text ("a,b" or "[a b]"); both forms and real
JSON lists are read.
"""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.config import get_settings
from shared.errors import Forbidden, Unauthorized
from shared.observability import logger


class Role(StrEnum):
    ANALYST = "analyst"  # the review queue and labels
    ADMIN = "admin"  # lists, SOAR actions, model rollback (and what an analyst does)
    AUDITOR = "auditor"  # reads everything, changes nothing


class Permission(StrEnum):
    READ = "read"  # every list and search of the admin surface
    REVIEW = "review"  # claim and resolve review items
    LABEL = "label"  # upload labels
    LISTS = "lists"  # add/remove blocklist entries
    ACTIONS = "actions"  # undo SOAR actions
    ROLLBACK = "rollback"  # roll the model back


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ANALYST: frozenset({Permission.READ, Permission.REVIEW, Permission.LABEL}),
    Role.ADMIN: frozenset(Permission),
    Role.AUDITOR: frozenset({Permission.READ}),
}


class MfaRequired(Forbidden):
    code = "mfa_required"


class IpNotAllowed(Forbidden):
    code = "ip_not_allowed"


@dataclass(frozen=True)
class Principal:
    """The signed-in admin of one request, as the audit trail records it."""

    username: str
    subject: str
    roles: tuple[Role, ...]
    source_ip: str | None
    request_id: str | None
    expires_at: int
    auth_time: int

    @property
    def role(self) -> str:
        """The roles as one text (the audit row's `role`)."""
        return ",".join(self.roles)

    def may(self, permission: Permission) -> bool:
        return any(permission in GRANTS[role] for role in self.roles)


def claim_list(value: Any) -> list[str]:
    """A list claim as API Gateway may pass it: a list, JSON text, "[a b]" or "a,b"."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text[1:-1].replace(",", " ").split()
        return [str(item) for item in parsed] if isinstance(parsed, list) else [str(parsed)]
    return [part.strip() for part in text.split(",") if part.strip()]


# API Gateway's REST Cognito authorizer passes `exp` and `iat` as text dates ("Thu Dec 03 22:30:00 UTC
# 2026"), `auth_time` as a number in text.
_GATEWAY_DATE = "%a %b %d %H:%M:%S UTC %Y"


def time_claim(claims: dict[str, Any], name: str) -> int:
    """A time claim as epoch seconds, from a number or the gateway's text date; 401 if neither."""
    text = str(claims.get(name, "")).strip()
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.strptime(text, _GATEWAY_DATE).replace(tzinfo=UTC).timestamp())
    except ValueError:
        raise Unauthorized(f"the token's {name} claim is missing or not a time") from None


def _claims(event: dict[str, Any]) -> dict[str, Any]:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims")
    if not isinstance(claims, dict) or not claims:
        raise Unauthorized("sign in: this route needs an admin ID token in the Authorization header")
    return claims


def _check_token(claims: dict[str, Any], now: float) -> tuple[int, int]:
    """(exp, auth_time) of a token this deployment issued and that is still valid; else 401."""
    settings = get_settings()
    if claims.get("token_use") != "id":
        raise Unauthorized("send the ID token of the admin sign-in (token_use id)")
    if settings.admin_token_issuer and claims.get("iss") != settings.admin_token_issuer:
        raise Unauthorized("the token was not issued by this deployment's admin user pool")
    if settings.admin_client_id and claims.get("aud") != settings.admin_client_id:
        raise Unauthorized("the token was issued for another client")
    expires_at, auth_time = time_claim(claims, "exp"), time_claim(claims, "auth_time")
    if expires_at <= now:
        raise Unauthorized("the token has expired: refresh it or sign in again")
    if now - auth_time > settings.admin_session_max_s:
        raise Unauthorized("the session is older than its bound: sign in again (with MFA)")
    return expires_at, auth_time


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    settings = get_settings()
    configured = settings.admin_allowed_cidrs
    if configured is None:
        if settings.environment in {"local", "test"}:
            configured = "127.0.0.0/8,::1/128"
        else:
            logger.error("TG_ADMIN_ALLOWED_CIDRS is not set: every admin request is refused")
            return []
    return [
        ipaddress.ip_network(part.strip(), strict=False) for part in configured.split(",") if part.strip()
    ]


def _check_source(source_ip: str | None) -> None:
    try:
        address = ipaddress.ip_address(source_ip or "")
    except ValueError:
        raise IpNotAllowed("the admin routes answer only the admin network; no source address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if not any(address.version == net.version and address in net for net in allowed_networks()):
        raise IpNotAllowed(f"the admin routes answer only the admin network; {address} is outside it")


def roles_of(claims: dict[str, Any]) -> tuple[Role, ...]:
    known = {role.value: role for role in Role}
    return tuple(known[group] for group in claim_list(claims.get("cognito:groups")) if group in known)


def authenticate(event: dict[str, Any], *, now: float | None = None) -> Principal:
    """The signed-in admin of `event`; 401 or 403 (see the module) otherwise."""
    claims = _claims(event)
    expires_at, auth_time = _check_token(claims, time.time() if now is None else now)
    if "mfa" not in claim_list(claims.get("amr")):
        raise MfaRequired("the admin routes need a sign-in with MFA (TOTP)")
    context = event.get("requestContext") or {}
    source_ip = (context.get("identity") or {}).get("sourceIp")
    _check_source(source_ip)
    roles = roles_of(claims)
    if not roles:
        raise Forbidden("this account is in no admin group (analyst, admin or auditor)")
    username = str(claims.get("cognito:username") or claims.get("email") or claims.get("sub"))
    return Principal(
        username=username,
        subject=str(claims.get("sub")),
        roles=roles,
        source_ip=source_ip,
        request_id=context.get("requestId"),
        expires_at=expires_at,
        auth_time=auth_time,
    )


def authorize(event: dict[str, Any], permission: Permission, *, now: float | None = None) -> Principal:
    """`authenticate`, then 403 unless one of the caller's roles grants `permission`."""
    principal = authenticate(event, now=now)
    if not principal.may(permission):
        raise Forbidden(f"role {principal.role} may not {permission.value} here")
    return principal

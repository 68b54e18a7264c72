"""The one authorization check of the admin routes (shared/admin/auth.py), from the claims an
authorizer passes; no server."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.admin.auth import Permission, Role, authenticate, authorize, claim_list
from shared.api.errors import to_response
from shared.config import get_settings
from shared.errors import TicketGuardError
from tooling.local.issuer import flatten_claims

NOW = 1_800_000_000


def _event(claims: dict[str, Any] | None, source_ip: str = "127.0.0.1") -> dict[str, Any]:
    context: dict[str, Any] = {"identity": {"sourceIp": source_ip}, "requestId": "req-1"}
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {"requestContext": context}


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "u-1",
        "cognito:username": "ann",
        "token_use": "id",
        "cognito:groups": ["analyst"],
        "amr": ["pwd", "otp", "mfa"],
        "auth_time": NOW - 60,
        "iat": NOW - 60,
        "exp": NOW + 840,
    }
    return flatten_claims(claims | overrides)  # as API Gateway's REST authorizer passes them


def _refusal(event: dict[str, Any], permission: Permission = Permission.READ) -> tuple[int, str]:
    with pytest.raises(TicketGuardError) as caught:
        authorize(event, permission, now=NOW)
    status, body, _ = to_response(caught.value)
    return status, body["error"]["code"]


def test_given_an_mfa_analyst_when_authorized_for_review_then_the_principal_names_user_role_and_ip() -> None:
    principal = authorize(_event(_claims()), Permission.REVIEW, now=NOW)
    assert (principal.username, principal.roles, principal.source_ip) == ("ann", (Role.ANALYST,), "127.0.0.1")
    assert principal.request_id == "req-1" and principal.expires_at == NOW + 840


def test_given_no_authorizer_claims_then_401_unauthorized() -> None:
    assert _refusal(_event(None)) == (401, "unauthorized")


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": NOW - 1},  # expired
        {"token_use": "access"},  # not the ID token
        {"auth_time": NOW - 3601, "exp": NOW + 60},  # refreshed past the session bound
    ],
)
def test_given_an_expired_wrong_or_overlong_token_then_401(overrides: dict[str, Any]) -> None:
    assert _refusal(_event(_claims(**overrides))) == (401, "unauthorized")


def test_given_a_sign_in_without_mfa_then_403_mfa_required() -> None:
    assert _refusal(_event(_claims(amr=["pwd"]))) == (403, "mfa_required")
    assert _refusal(_event(_claims(amr=None) | {"amr": ""})) == (403, "mfa_required")


def test_given_a_source_outside_the_admin_network_then_403_ip_not_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _refusal(_event(_claims(), source_ip="203.0.113.9")) == (403, "ip_not_allowed")
    monkeypatch.setenv("TG_ADMIN_ALLOWED_CIDRS", "203.0.113.0/24")
    get_settings.cache_clear()
    assert authorize(_event(_claims(), source_ip="203.0.113.9"), Permission.READ, now=NOW).username == "ann"
    assert _refusal(_event(_claims(), source_ip="127.0.0.1")) == (403, "ip_not_allowed")


def test_given_a_deployed_function_without_an_allow_list_then_every_admin_request_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_ENVIRONMENT", "prod")
    monkeypatch.setenv("TG_LOG_PII_SALT", "a-test-salt-of-16-chars")
    get_settings.cache_clear()
    assert _refusal(_event(_claims())) == (403, "ip_not_allowed")


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("analyst", {Permission.READ, Permission.REVIEW, Permission.LABEL}),
        ("admin", set(Permission)),
        ("auditor", {Permission.READ}),
    ],
)
def test_given_each_role_then_it_may_exactly_its_permissions(role: str, allowed: set[Permission]) -> None:
    event = _event(_claims(**{"cognito:groups": [role]}))
    for permission in Permission:
        if permission in allowed:
            assert authorize(event, permission, now=NOW).roles == (Role(role),)
        else:
            assert _refusal(event, permission) == (403, "forbidden"), (role, permission)


def test_given_a_user_in_no_admin_group_then_403() -> None:
    assert _refusal(_event(_claims(**{"cognito:groups": ["marketing"]}))) == (403, "forbidden")


def test_given_the_issuer_and_client_configured_then_a_token_of_another_pool_is_401(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_ADMIN_TOKEN_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc")
    get_settings.cache_clear()
    assert _refusal(_event(_claims(iss="https://cognito-idp.eu-west-1.amazonaws.com/other"))) == (
        401,
        "unauthorized",
    )
    good = _claims(iss="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc")
    assert authenticate(_event(good), now=NOW).username == "ann"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", "b"], ["a", "b"]),
        ("a,b", ["a", "b"]),
        ("[a b]", ["a", "b"]),
        ('["a","b"]', ["a", "b"]),
        ("a", ["a"]),
        (None, []),
    ],
)
def test_given_a_list_claim_in_any_gateway_form_then_it_is_read_as_a_list(
    value: Any, expected: list[str]
) -> None:
    assert claim_list(value) == expected


def test_given_real_time_then_a_fresh_token_is_accepted_without_a_clock_argument() -> None:
    now = int(time.time())
    event = _event(_claims(auth_time=now, iat=now, exp=now + 900))
    assert authenticate(event).auth_time == now

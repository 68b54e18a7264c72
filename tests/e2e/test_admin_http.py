"""The admin surface over HTTP to the local gateway: the gateway checks the token as API Gateway's
Cognito authorizer does, and the admin function runs the same authorization as in AWS."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pyotp
import pytest

from tests.fixtures.admin import SignIn
from tests.fixtures.api import assert_matches_openapi
from tooling.local.issuer import LocalIssuer

SESSION = "/api/v1/admin/session"


@pytest.fixture
def http(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=30) as session:
        yield session


def test_given_no_or_a_wrong_token_then_the_gateway_answers_401_before_the_function(
    http: httpx.Client, admin_token: SignIn
) -> None:
    token = admin_token("analyst")
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": token[:-6] + "AAAAAA"}):
        response = http.get(SESSION, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
        assert_matches_openapi("GET", SESSION, response)


def test_given_an_analyst_without_mfa_then_403_mfa_required(http: httpx.Client, admin_token: SignIn) -> None:
    response = http.get(SESSION, headers={"Authorization": admin_token("analyst", mfa=False)})
    assert response.status_code == 403 and response.json()["error"]["code"] == "mfa_required"
    assert_matches_openapi("GET", SESSION, response)


def test_given_an_mfa_sign_in_through_the_local_pool_then_the_session_names_roles_and_permissions(
    http: httpx.Client, admin_issuer: LocalIssuer
) -> None:
    enrolment = admin_issuer.create_user("ann", ["auditor"])
    signed = http.post(
        "/local/admin/sign-in",
        json={
            "username": "ann",
            "password": enrolment.password,
            "code": pyotp.TOTP(str(enrolment.totp_secret)).now(),
        },
    )
    assert signed.status_code == 200, signed.text
    response = http.get(SESSION, headers={"Authorization": f"Bearer {signed.json()['IdToken']}"})
    assert response.status_code == 200, response.text
    assert_matches_openapi("GET", SESSION, response)
    assert response.json()["roles"] == ["auditor"] and response.json()["permissions"] == ["read"]
    refreshed = http.post("/local/admin/refresh", json={"refresh_token": signed.json()["RefreshToken"]})
    assert http.get(SESSION, headers={"Authorization": refreshed.json()["IdToken"]}).status_code == 200
    wrong = http.post("/local/admin/sign-in", json={"username": "ann", "password": "nope", "code": "123456"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"

"""The local admin user pool (tooling/local/issuer.py): Cognito's token shape, TOTP, bounded refresh."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pyotp
import pytest

from shared.errors import Unauthorized
from tooling.cli import main
from tooling.local.issuer import CLIENT_ID, ISSUER, REFRESH_VALIDITY_S, TOKEN_VALIDITY_S, LocalIssuer


def test_given_a_user_enrolled_with_totp_when_signing_in_with_the_code_then_cognito_shaped_tokens(
    admin_issuer: LocalIssuer,
) -> None:
    enrolment = admin_issuer.create_user("ann", ["analyst"])
    assert (
        enrolment.totp_secret
        and enrolment.otpauth_uri
        and enrolment.otpauth_uri.startswith("otpauth://totp/")
    )
    tokens = admin_issuer.sign_in("ann", enrolment.password, pyotp.TOTP(enrolment.totp_secret).now())
    assert tokens["ExpiresIn"] == TOKEN_VALIDITY_S and tokens["TokenType"] == "Bearer"
    header = jwt.get_unverified_header(tokens["IdToken"])
    assert header["alg"] == "RS256" and header["kid"] == admin_issuer.kid
    id_claims = jwt.decode(tokens["IdToken"], options={"verify_signature": False})
    assert id_claims["token_use"] == "id" and id_claims["aud"] == CLIENT_ID and id_claims["iss"] == ISSUER
    assert id_claims["cognito:groups"] == ["analyst"] and id_claims["amr"] == ["pwd", "otp", "mfa"]
    assert id_claims["exp"] - id_claims["iat"] == TOKEN_VALIDITY_S
    access = jwt.decode(tokens["AccessToken"], options={"verify_signature": False})
    assert access["token_use"] == "access" and access["client_id"] == CLIENT_ID and "aud" not in access


def test_given_a_wrong_password_or_code_then_sign_in_is_refused(admin_issuer: LocalIssuer) -> None:
    enrolment = admin_issuer.create_user("ann", ["admin"])
    with pytest.raises(Unauthorized):
        admin_issuer.sign_in("ann", "not-the-password", pyotp.TOTP(str(enrolment.totp_secret)).now())
    with pytest.raises(Unauthorized):
        admin_issuer.sign_in("ann", enrolment.password, None)
    with pytest.raises(Unauthorized):
        admin_issuer.sign_in(
            "ann",
            enrolment.password,
            "000000" if pyotp.TOTP(str(enrolment.totp_secret)).now() != "000000" else "111111",
        )
    with pytest.raises(Unauthorized):
        admin_issuer.sign_in("nobody", "x", None)


def test_given_a_user_without_totp_then_its_token_says_pwd_only(admin_issuer: LocalIssuer) -> None:
    enrolment = admin_issuer.create_user("bob", ["analyst"], mfa=False)
    tokens = admin_issuer.sign_in("bob", enrolment.password)
    assert admin_issuer.verify(tokens["IdToken"])["amr"] == "pwd"


def test_given_the_gateway_check_then_only_a_valid_id_token_of_this_pool_passes(
    admin_issuer: LocalIssuer, tmp_path: Path
) -> None:
    enrolment = admin_issuer.create_user("ann", ["auditor"])
    tokens = admin_issuer.sign_in("ann", enrolment.password, pyotp.TOTP(str(enrolment.totp_secret)).now())
    claims = admin_issuer.verify(f"Bearer {tokens['IdToken']}")
    assert claims["cognito:groups"] == "auditor" and claims["exp"].endswith(time.strftime("%Y"))
    for wrong in (None, "", tokens["AccessToken"], tokens["IdToken"][:-4] + "AAAA", tokens["RefreshToken"]):
        with pytest.raises(Unauthorized):
            admin_issuer.verify(wrong)
    other_pool = LocalIssuer(tmp_path / "other")
    with pytest.raises(Unauthorized):
        other_pool.verify(tokens["IdToken"])  # signed with another key


def test_given_a_refresh_then_new_tokens_keep_the_sign_in_and_never_outlive_the_refresh_token(
    tmp_path: Path,
) -> None:
    now = [time.time()]
    admin_issuer = LocalIssuer(tmp_path / "pool", clock=lambda: now[0])
    enrolment = admin_issuer.create_user("ann", ["admin"])
    signed_in = now[0]
    tokens = admin_issuer.sign_in("ann", enrolment.password, pyotp.TOTP(str(enrolment.totp_secret)).now())
    assert "RefreshToken" in tokens
    # 50 minutes later: a refresh gives tokens that end with the refresh token, 60 min after sign-in
    now[0] = signed_in + 50 * 60
    refreshed = admin_issuer.refresh(tokens["RefreshToken"])
    claims = jwt.decode(refreshed["IdToken"], options={"verify_signature": False})
    first = jwt.decode(tokens["IdToken"], options={"verify_signature": False})
    assert claims["auth_time"] == first["auth_time"] and claims["amr"] == first["amr"]
    assert claims["exp"] <= first["auth_time"] + REFRESH_VALIDITY_S and "RefreshToken" not in refreshed
    assert admin_issuer.verify(refreshed["IdToken"])["cognito:username"] == "ann"
    now[0] = signed_in + REFRESH_VALIDITY_S + 5
    with pytest.raises(Unauthorized):
        admin_issuer.refresh(tokens["RefreshToken"])
    with pytest.raises(Unauthorized):
        admin_issuer.verify(refreshed["IdToken"])  # expired with its refresh token


def test_given_the_cli_when_creating_a_user_then_it_prints_the_totp_secret(
    admin_issuer: LocalIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["admin", "create-user", "carol", "--role", "auditor", "--password", "pw-of-carol"]) == 0
    out = capsys.readouterr().out
    secret = next(line.split()[-1] for line in out.splitlines() if line.startswith("totp secret:"))
    tokens = admin_issuer.sign_in("carol", "pw-of-carol", pyotp.TOTP(secret).now())
    assert admin_issuer.verify(tokens["IdToken"])["cognito:username"] == "carol"

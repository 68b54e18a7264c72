"""The local stand-in for the admins' Cognito user pool: users with a password and TOTP, and tokens
of Cognito's shape, signed RS256 with a local key.

`make run`'s gateway verifies these tokens as API Gateway's Cognito authorizer verifies the pool's
(signature, issuer, audience, expiry) and hands the functions the same claims, so the functions run
the same authorization code (shared/admin/auth.py) here and in AWS.

Like the pool: ID and access tokens last 15 minutes; the refresh token lasts `REFRESH_VALIDITY_S`
from the sign-in, is not renewed by a refresh, and a refreshed token keeps the sign-in's `auth_time`
and `amr` (a refresh never turns a sign-in without MFA into one with it). A user enrolled without
TOTP (`--no-mfa`, as in a pool where MFA is optional) signs in with `amr` ["pwd"]: the admin routes
refuse that token (403 `mfa_required`).

State (the signing key and the users, passwords as scrypt hashes) lives in TG_LOCAL_ADMIN_DIR
(default ~/.ticketguard/admin), so that users created by `ticketguard admin create-user` survive
restarts of `make run`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pyotp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.admin.auth import Role
from shared.api.errors import error_body
from shared.errors import NotFound, Unauthorized, ValidationFailed

TOKEN_VALIDITY_S = 15 * 60
REFRESH_VALIDITY_S = 60 * 60  # Cognito's floor for refresh tokens; the session bound is the same
POOL_ID = "local_admins"
ISSUER = f"https://cognito-idp.local.amazonaws.com/{POOL_ID}"
CLIENT_ID = "ticketguard-admin-local"
TOTP_ISSUER = "TicketGuard (local)"


def state_dir() -> Path:
    return Path(os.environ.get("TG_LOCAL_ADMIN_DIR") or Path.home() / ".ticketguard" / "admin")


def _hash_password(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1).hex()


def gateway_date(epoch: int) -> str:
    """A time claim as API Gateway's REST authorizer passes `exp` and `iat`."""
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(epoch))


def flatten_claims(claims: dict[str, Any]) -> dict[str, str]:
    """The claims as API Gateway's REST Cognito authorizer hands them to a function: all text, lists
    comma-joined, `exp` and `iat` as dates."""
    flat: dict[str, str] = {}
    for name, value in claims.items():
        if name in {"exp", "iat"}:
            flat[name] = gateway_date(int(value))
        elif isinstance(value, list):
            flat[name] = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        else:
            flat[name] = str(value)
    return flat


@dataclass(frozen=True)
class Enrolment:
    username: str
    password: str
    totp_secret: str | None
    groups: tuple[str, ...]

    @property
    def otpauth_uri(self) -> str | None:
        if self.totp_secret is None:
            return None
        return pyotp.TOTP(self.totp_secret).provisioning_uri(name=self.username, issuer_name=TOTP_ISSUER)


class LocalIssuer:
    """The local user pool: its users, its key, and the tokens it signs."""

    def __init__(self, directory: Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory or state_dir()
        self.clock = clock

    # ------------------------------------------------------------------ state
    @functools.cached_property
    def kid(self) -> str:
        public_der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(public_der).hexdigest()[:16]

    @functools.cached_property
    def _key(self) -> rsa.RSAPrivateKey:
        """The pool's signing key, made on first use (a request without a token touches no file)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / "signing-key.pem"
        if not path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_bytes(pem)
            temporary.chmod(0o600)
            temporary.replace(path)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValidationFailed(f"{path} is not an RSA private key")
        return loaded

    def _users_path(self) -> Path:
        return self.directory / "users.json"

    def _users(self) -> dict[str, dict[str, Any]]:
        path = self._users_path()
        users: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
        return users

    def _save_users(self, users: dict[str, dict[str, Any]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self._users_path().with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(users, indent=2, sort_keys=True))
        temporary.chmod(0o600)
        temporary.replace(self._users_path())

    # ------------------------------------------------------------------ users
    def create_user(
        self, username: str, roles: list[str], *, password: str | None = None, mfa: bool = True
    ) -> Enrolment:
        """Enrol a user in the given groups (roles); a password is generated when none is given."""
        unknown = sorted(set(roles) - {role.value for role in Role})
        if not username.strip() or unknown or not roles:
            raise ValidationFailed(
                f"give a username and roles among {', '.join(r.value for r in Role)} (unknown: {unknown})"
            )
        password = password or secrets.token_urlsafe(12)
        salt = secrets.token_bytes(16)
        secret = pyotp.random_base32() if mfa else None
        users = self._users()
        users[username] = {
            "sub": users.get(username, {}).get("sub") or str(uuid.uuid4()),
            "salt": salt.hex(),
            "password": _hash_password(password, salt),
            "totp_secret": secret,
            "groups": sorted(set(roles)),
        }
        self._save_users(users)
        return Enrolment(username, password, secret, tuple(sorted(set(roles))))

    def _user(self, username: str) -> dict[str, Any]:
        user = self._users().get(username)
        if user is None:
            raise NotFound(f"no admin user {username!r} (ticketguard admin create-user)")
        return user

    # ------------------------------------------------------------------ tokens
    def sign_in(self, username: str, password: str, code: str | None = None) -> dict[str, Any]:
        """Cognito's AuthenticationResult for a password (+ TOTP code when the user is enrolled)."""
        try:
            user = self._user(username)
        except NotFound:
            raise Unauthorized("incorrect username or password") from None
        expected = _hash_password(password, bytes.fromhex(user["salt"]))
        if not secrets.compare_digest(expected, user["password"]):
            raise Unauthorized("incorrect username or password")
        amr = ["pwd"]
        if user["totp_secret"]:
            if not code or not pyotp.TOTP(user["totp_secret"]).verify(code, valid_window=1):
                raise Unauthorized("invalid TOTP code")
            amr = ["pwd", "otp", "mfa"]
        now = int(self.clock())
        tokens = self._tokens(username, user, auth_time=now, amr=amr, now=now)
        refresh = {"token_use": "refresh", "sub": user["sub"], "username": username, "auth_time": now}
        refresh |= {"amr": amr, "exp": now + REFRESH_VALIDITY_S, "jti": str(uuid.uuid4())}
        tokens["RefreshToken"] = self._sign(refresh)
        return tokens

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """New ID and access tokens for a refresh token still valid (it is not renewed)."""
        claims = self._decode(refresh_token, audience=None)
        if claims.get("token_use") != "refresh":
            raise Unauthorized("not a refresh token")
        user = self._user(str(claims["username"]))
        return self._tokens(
            str(claims["username"]),
            user,
            auth_time=int(claims["auth_time"]),
            amr=claims["amr"],
            now=int(self.clock()),
            expires_at=int(claims["exp"]),
        )

    def _tokens(
        self,
        username: str,
        user: dict[str, Any],
        *,
        auth_time: int,
        amr: list[str],
        now: int,
        expires_at: int | None = None,
    ) -> dict[str, Any]:
        expires = min(now + TOKEN_VALIDITY_S, expires_at or now + TOKEN_VALIDITY_S)
        common = {"sub": user["sub"], "iss": ISSUER, "auth_time": auth_time, "iat": now, "exp": expires}
        common |= {"cognito:groups": user["groups"], "origin_jti": str(uuid.uuid4()), "amr": amr}
        id_claims = common | {"aud": CLIENT_ID, "token_use": "id", "cognito:username": username}
        id_claims |= {"event_id": str(uuid.uuid4()), "jti": str(uuid.uuid4())}
        access = common | {"client_id": CLIENT_ID, "token_use": "access", "username": username}
        access |= {"scope": "aws.cognito.signin.user.admin", "jti": str(uuid.uuid4())}
        return {
            "IdToken": self._sign(id_claims),
            "AccessToken": self._sign(access),
            "ExpiresIn": expires - now,
            "TokenType": "Bearer",
        }

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def _decode(self, token: str, *, audience: str | None) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                issuer=ISSUER if audience else None,
                audience=audience,
                # expiry on this pool's clock (below), as the pool's own checks would
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": audience is not None,
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        if int(claims["exp"]) <= self.clock():
            raise Unauthorized("the token has expired")
        return claims

    def verify(self, authorization: str | None) -> dict[str, str]:
        """What API Gateway's Cognito authorizer does with the `Authorization` header: the ID token's
        claims (flattened as the gateway passes them), or Unauthorized (401)."""
        token = (authorization or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise Unauthorized("missing Authorization header")
        return flatten_claims(self._decode(token, audience=CLIENT_ID))


def sign_in_routes(issuer: Callable[[], LocalIssuer]) -> list[Route]:
    """The pool's sign-in, as local HTTP routes (Cognito's InitiateAuth in AWS; not part of the API
    document): POST /local/admin/sign-in {username, password, code?} and POST /local/admin/refresh
    {refresh_token} answer Cognito's AuthenticationResult, or 401 in the API's error shape."""

    async def sign_in(request: Request) -> Response:
        body = await _json_object(request)
        code = body.get("code")
        return JSONResponse(
            issuer().sign_in(str(body.get("username", "")), str(body.get("password", "")), code and str(code))
        )

    async def refresh(request: Request) -> Response:
        body = await _json_object(request)
        return JSONResponse(issuer().refresh(str(body.get("refresh_token", ""))))

    def answering(
        endpoint: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            try:
                return await endpoint(request)
            except (Unauthorized, NotFound, ValidationFailed) as exc:
                status = 400 if isinstance(exc, ValidationFailed) else 401
                return JSONResponse(
                    error_body("unauthorized" if status == 401 else exc.code, exc.message), status
                )

        return guarded

    return [
        Route("/local/admin/sign-in", answering(sign_in), methods=["POST"]),
        Route("/local/admin/refresh", answering(refresh), methods=["POST"]),
    ]


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ValidationFailed("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ValidationFailed("request body must be a JSON object")
    return body

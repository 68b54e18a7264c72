"""Connection settings of a deployed function, resolved once at cold start.

The CDK stacks never put a password in a function's environment. They give the secret's ARN and
the endpoint instead; this module turns them into the variables `shared.config.Settings` reads:

| given by the deployment | becomes |
| --- | --- |
| `TG_DB_SECRET_ARN`, `TG_DB_HOST`, `TG_DB_PORT`, `TG_DB_NAME` | `DATABASE_URL` (user/password from the RDS secret JSON; the host is RDS Proxy's) |
| the same, with `TG_DB_DIRECT_HOST`, `TG_DB_DIRECT_PORT` | `DATABASE_DIRECT_URL` (the instance itself, on its own port: jobs and migrations, which need startup parameters and sessions) |
| `TG_REDIS_SECRET_ARN`, `TG_REDIS_HOST`, `TG_REDIS_PORT` | `REDIS_URL` = `rediss://:<token>@host:port/0` (TLS + AUTH) |
| `TG_LOG_PII_SALT_SECRET_ARN` | `TG_LOG_PII_SALT` |
| `TG_CHAIN_RPC_URL_PARAMETER` (SSM SecureString) | `CHAIN_RPC_URL` |

A variable already set wins (local runs, tests). Nothing is fetched when no ARN is given.

The database password rotates (every 30 days): `current_database_url()` re-reads the secret through
Powertools' parameters cache (at most every SECRET_MAX_AGE_S, and at once after a failed login), so
that the connections a warm container opens after a rotation use the new password.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote

from shared.errors import ConfigurationError, DependencyUnavailable


def database_url_from_secret(secret: dict[str, Any], *, host: str, port: str, dbname: str) -> str:
    try:
        user, password = secret["username"], secret["password"]
    except KeyError as missing:
        raise ConfigurationError(f"the database secret has no {missing} field") from None
    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{dbname}?sslmode=require"


SECRET_MAX_AGE_S = 300


def current_database_url(*, direct: bool = False, refresh: bool = False) -> str | None:
    """The database URL from the secret as it is now, for a deployed function (None when the
    deployment gives no TG_DB_SECRET_ARN: then DATABASE_URL / DATABASE_DIRECT_URL are the URLs).
    `direct`: the instance's own endpoint when the deployment gives one (TG_DB_DIRECT_HOST)."""
    env = os.environ
    arn = env.get("TG_DB_SECRET_ARN")
    host = (env.get("TG_DB_DIRECT_HOST") if direct else None) or env.get("TG_DB_HOST")
    if not arn or not host:
        return None
    port = _direct_port(env) if direct and env.get("TG_DB_DIRECT_HOST") else env.get("TG_DB_PORT", "5432")
    from aws_lambda_powertools.utilities import parameters  # boto3: deployed functions only

    try:
        secret = parameters.get_secret(
            arn, transform="json", max_age=SECRET_MAX_AGE_S, force_fetch=refresh and _refresh_allowed()
        )
    except parameters.exceptions.TransformParameterError:
        raise ConfigurationError("the database secret is not JSON") from None
    except Exception as exc:  # botocore raises many types; all mean the same here
        raise DependencyUnavailable(f"cannot read secret {arn}: {type(exc).__name__}") from exc
    if not isinstance(secret, dict):
        raise ConfigurationError("the database secret is not a JSON object")
    return database_url_from_secret(secret, host=host, port=port, dbname=env.get("TG_DB_NAME", "ticketguard"))


def _direct_port(env: MutableMapping[str, str]) -> str:
    """The instance's port (not the proxy's: RDS Proxy listens on 5432, the instance on its own)."""
    return env.get("TG_DB_DIRECT_PORT") or env.get("TG_DB_PORT", "5432")


_last_forced_refresh = [0.0]
FORCED_REFRESH_MIN_INTERVAL_S = 30.0


def _refresh_allowed() -> bool:
    """A failed login forces a re-read of the secret, at most every 30 s per container: during an
    outage every connection attempt fails, and Secrets Manager is billed per call."""
    import time

    now = time.monotonic()
    if now - _last_forced_refresh[0] < FORCED_REFRESH_MIN_INTERVAL_S:
        return False
    _last_forced_refresh[0] = now
    return True


def redis_url_from_token(token: str, *, host: str, port: str) -> str:
    return f"rediss://:{quote(token, safe='')}@{host}:{port}/0"


def resolve_environment(
    environ: MutableMapping[str, str] | None = None, *, secrets: Any = None, ssm: Any = None
) -> list[str]:
    """Set the derived variables that are missing; return their names."""
    env = os.environ if environ is None else environ
    wanted = {
        "DATABASE_URL": "TG_DB_SECRET_ARN",
        "REDIS_URL": "TG_REDIS_SECRET_ARN",
        "TG_LOG_PII_SALT": "TG_LOG_PII_SALT_SECRET_ARN",
        "CHAIN_RPC_URL": "TG_CHAIN_RPC_URL_PARAMETER",
    }
    todo = {target: source for target, source in wanted.items() if not env.get(target) and env.get(source)}
    if not todo:
        return []
    resolver = _Resolver(env, secrets, ssm)
    for target, source in todo.items():
        if target == "DATABASE_URL":
            resolver.database_urls(env[source])
        elif target == "REDIS_URL":
            env[target] = redis_url_from_token(
                resolver.secret_string(env[source]),
                host=resolver.required("TG_REDIS_HOST"),
                port=env.get("TG_REDIS_PORT", "6379"),
            )
        elif target == "TG_LOG_PII_SALT":
            env[target] = resolver.secret_string(env[source])
        else:
            env[target] = resolver.parameter(env[source])
    return sorted(todo)


class _Resolver:
    """Reads the deployment's secrets and parameters for `resolve_environment`.

    Only deployed functions get here: Powertools' providers (boto3 is part of the Lambda runtime), with
    their cache, so that the pool's later re-reads of the DB secret (current_database_url) cost nothing
    within SECRET_MAX_AGE_S."""

    def __init__(self, env: MutableMapping[str, str], secrets: Any, ssm: Any) -> None:
        from aws_lambda_powertools.utilities import parameters

        self._env = env
        self._parameters = parameters
        self._secrets = parameters.SecretsProvider(boto3_client=secrets) if secrets else None
        self._ssm = parameters.SSMProvider(boto3_client=ssm) if ssm else None

    def secret_string(self, arn: str) -> str:
        try:
            if self._secrets is not None:
                return str(self._secrets.get(arn, max_age=SECRET_MAX_AGE_S))
            return str(self._parameters.get_secret(arn, max_age=SECRET_MAX_AGE_S))
        except Exception as exc:  # botocore raises many types; all mean the same to a cold start
            raise DependencyUnavailable(f"cannot read secret {arn}: {type(exc).__name__}") from exc

    def parameter(self, name: str) -> str:
        try:
            if self._ssm is not None:
                value = self._ssm.get(name, decrypt=True, max_age=SECRET_MAX_AGE_S)
            else:
                value = self._parameters.get_parameter(name, decrypt=True, max_age=SECRET_MAX_AGE_S)
            return str(value)
        except Exception as exc:
            raise DependencyUnavailable(f"cannot read parameter {name}: {type(exc).__name__}") from exc

    def required(self, name: str) -> str:
        value = self._env.get(name)
        if not value:
            source = "TG_DB_SECRET_ARN" if name.startswith("TG_DB_") else "TG_REDIS_SECRET_ARN"
            raise ConfigurationError(f"{name} must be set alongside {source}")
        return value

    def database_urls(self, arn: str) -> None:
        """DATABASE_URL (the proxy's endpoint) and, when the deployment names the instance's own
        endpoint and DATABASE_DIRECT_URL is not set, DATABASE_DIRECT_URL."""
        env = self._env
        try:
            secret = json.loads(self.secret_string(arn))
        except json.JSONDecodeError:
            raise ConfigurationError("the database secret is not JSON") from None
        port, dbname = env.get("TG_DB_PORT", "5432"), self.required("TG_DB_NAME")
        env["DATABASE_URL"] = database_url_from_secret(
            secret, host=self.required("TG_DB_HOST"), port=port, dbname=dbname
        )
        direct_host = env.get("TG_DB_DIRECT_HOST")
        if direct_host and not env.get("DATABASE_DIRECT_URL"):
            env["DATABASE_DIRECT_URL"] = database_url_from_secret(
                secret, host=direct_host, port=_direct_port(env), dbname=dbname
            )

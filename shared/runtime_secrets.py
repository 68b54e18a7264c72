"""Connection settings of a deployed function, resolved once at cold start.

The CDK stacks never put a password in a function's environment. They give the secret's ARN and
the endpoint instead; this module turns them into the variables `shared.config.Settings` reads:

| given by the deployment | becomes |
| --- | --- |
| `TG_DB_SECRET_ARN`, `TG_DB_HOST`, `TG_DB_PORT`, `TG_DB_NAME` | `DATABASE_URL` (user/password from the RDS secret JSON) |
| `TG_REDIS_SECRET_ARN`, `TG_REDIS_HOST`, `TG_REDIS_PORT` | `REDIS_URL` = `rediss://:<token>@host:port/0` (TLS + AUTH) |
| `TG_LOG_PII_SALT_SECRET_ARN` | `TG_LOG_PII_SALT` |
| `TG_CHAIN_RPC_URL_PARAMETER` (SSM SecureString) | `CHAIN_RPC_URL` |

A variable already set wins (local runs, tests). Nothing is fetched when no ARN is given.
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
    import boto3  # only deployed functions get here; boto3 is part of the Lambda runtime

    def secret_string(arn: str) -> str:
        nonlocal secrets
        secrets = secrets or boto3.client("secretsmanager")
        try:
            return str(secrets.get_secret_value(SecretId=arn)["SecretString"])
        except Exception as exc:  # botocore raises many types; all mean the same to a cold start
            raise DependencyUnavailable(f"cannot read secret {arn}: {type(exc).__name__}") from exc

    def required(name: str) -> str:
        value = env.get(name)
        if not value:
            raise ConfigurationError(f"{name} must be set alongside {todo_source(name)}")
        return value

    def todo_source(name: str) -> str:
        return "TG_DB_SECRET_ARN" if name.startswith("TG_DB_") else "TG_REDIS_SECRET_ARN"

    for target, source in todo.items():
        if target == "DATABASE_URL":
            try:
                secret = json.loads(secret_string(env[source]))
            except json.JSONDecodeError:
                raise ConfigurationError("the database secret is not JSON") from None
            env[target] = database_url_from_secret(
                secret,
                host=required("TG_DB_HOST"),
                port=env.get("TG_DB_PORT", "5432"),
                dbname=required("TG_DB_NAME"),
            )
        elif target == "REDIS_URL":
            env[target] = redis_url_from_token(
                secret_string(env[source]),
                host=required("TG_REDIS_HOST"),
                port=env.get("TG_REDIS_PORT", "6379"),
            )
        elif target == "TG_LOG_PII_SALT":
            env[target] = secret_string(env[source])
        else:
            ssm = ssm or boto3.client("ssm")
            try:
                env[target] = str(
                    ssm.get_parameter(Name=env[source], WithDecryption=True)["Parameter"]["Value"]
                )
            except Exception as exc:
                raise DependencyUnavailable(
                    f"cannot read parameter {env[source]}: {type(exc).__name__}"
                ) from exc
    return sorted(todo)

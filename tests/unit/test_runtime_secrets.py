"""Deployed functions get secret ARNs, never passwords; the cold start turns them into URLs."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from shared.errors import ConfigurationError, DependencyUnavailable
from shared.runtime_secrets import database_url_from_secret, redis_url_from_token, resolve_environment

REGION = "eu-west-1"


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION), boto3.client("ssm", region_name=REGION)


def test_given_an_rds_secret_when_building_the_url_then_credentials_are_escaped_and_tls_required():
    url = database_url_from_secret(
        {"username": "admin", "password": "p@ss/w:rd%"},
        host="proxy.example",
        port="5432",
        dbname="ticketguard",
    )
    assert url == "postgresql://admin:p%40ss%2Fw%3Ard%25@proxy.example:5432/ticketguard?sslmode=require"


def test_given_an_auth_token_when_building_the_redis_url_then_it_uses_tls():
    assert (
        redis_url_from_token("t0k/en", host="redis.example", port="6380")
        == "rediss://:t0k%2Fen@redis.example:6380/0"
    )


def test_given_no_arn_when_resolving_then_nothing_is_fetched_or_changed():
    environ = {"DATABASE_URL": "postgresql://local/db"}
    assert resolve_environment(environ, secrets=object(), ssm=object()) == []
    assert environ == {"DATABASE_URL": "postgresql://local/db"}


def test_given_the_deployment_variables_when_resolving_then_every_url_is_derived(aws):
    secrets, ssm = aws
    db_arn = secrets.create_secret(Name="db", SecretString=json.dumps({"username": "u", "password": "p"}))[
        "ARN"
    ]
    redis_arn = secrets.create_secret(Name="redis", SecretString="token")["ARN"]
    salt_arn = secrets.create_secret(Name="salt", SecretString="pepper")["ARN"]
    ssm.put_parameter(Name="/tg/rpc", Value="https://rpc.example/key", Type="SecureString")
    environ = {
        "TG_DB_SECRET_ARN": db_arn,
        "TG_DB_HOST": "proxy",
        "TG_DB_PORT": "5432",
        "TG_DB_NAME": "ticketguard",
        "TG_REDIS_SECRET_ARN": redis_arn,
        "TG_REDIS_HOST": "redis",
        "TG_REDIS_PORT": "6380",
        "TG_LOG_PII_SALT_SECRET_ARN": salt_arn,
        "TG_CHAIN_RPC_URL_PARAMETER": "/tg/rpc",
    }
    resolved = resolve_environment(environ, secrets=secrets, ssm=ssm)
    assert resolved == ["CHAIN_RPC_URL", "DATABASE_URL", "REDIS_URL", "TG_LOG_PII_SALT"]
    assert environ["DATABASE_URL"] == "postgresql://u:p@proxy:5432/ticketguard?sslmode=require"
    assert environ["REDIS_URL"] == "rediss://:token@redis:6380/0"
    assert environ["TG_LOG_PII_SALT"] == "pepper"
    assert environ["CHAIN_RPC_URL"] == "https://rpc.example/key"


def test_given_an_explicit_url_when_resolving_then_it_wins_over_the_secret(aws):
    secrets, _ = aws
    arn = secrets.create_secret(Name="db", SecretString=json.dumps({"username": "u", "password": "p"}))["ARN"]
    environ = {"DATABASE_URL": "postgresql://mine/db", "TG_DB_SECRET_ARN": arn}
    assert resolve_environment(environ, secrets=secrets) == []
    assert environ["DATABASE_URL"] == "postgresql://mine/db"


def test_given_a_secret_arn_without_its_host_when_resolving_then_the_missing_variable_is_named(aws):
    secrets, _ = aws
    arn = secrets.create_secret(Name="db", SecretString=json.dumps({"username": "u", "password": "p"}))["ARN"]
    with pytest.raises(ConfigurationError, match="TG_DB_HOST"):
        resolve_environment({"TG_DB_SECRET_ARN": arn, "TG_DB_NAME": "x"}, secrets=secrets)


def test_given_an_unreadable_secret_when_resolving_then_the_dependency_is_reported_unavailable(aws):
    secrets, _ = aws
    with pytest.raises(DependencyUnavailable, match="cannot read secret"):
        resolve_environment(
            {"TG_REDIS_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone"},
            secrets=secrets,
        )


def test_given_a_secret_that_is_not_an_rds_secret_when_resolving_then_it_says_which_field_is_missing(aws):
    secrets, _ = aws
    arn = secrets.create_secret(Name="db", SecretString=json.dumps({"user": "u"}))["ARN"]
    with pytest.raises(ConfigurationError, match="no 'username' field"):
        resolve_environment({"TG_DB_SECRET_ARN": arn, "TG_DB_HOST": "h", "TG_DB_NAME": "d"}, secrets=secrets)


def test_given_the_instance_endpoint_when_resolving_then_jobs_get_it_on_the_instance_port(aws):
    # Given a job function's variables: the proxy on 5432, the instance on its own port (5433)
    secrets, _ = aws
    arn = secrets.create_secret(Name="db", SecretString=json.dumps({"username": "u", "password": "p"}))["ARN"]
    environ = {
        "TG_DB_SECRET_ARN": arn,
        "TG_DB_HOST": "proxy",
        "TG_DB_PORT": "5432",
        "TG_DB_DIRECT_HOST": "instance",
        "TG_DB_DIRECT_PORT": "5433",
        "TG_DB_NAME": "ticketguard",
    }
    # When the cold start resolves them
    resolve_environment(environ, secrets=secrets)
    # Then the request path goes through the proxy and the jobs' URL names the instance and its port
    assert environ["DATABASE_URL"] == "postgresql://u:p@proxy:5432/ticketguard?sslmode=require"
    assert environ["DATABASE_DIRECT_URL"] == "postgresql://u:p@instance:5433/ticketguard?sslmode=require"

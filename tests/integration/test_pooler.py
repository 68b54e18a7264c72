"""Issue 10 finding 1 and 7: the request path reaches PostgreSQL through a transaction pooler
(PgBouncer here, RDS Proxy in AWS) without the startup parameter RDS Proxy refuses; jobs and
migrations reach it directly; a rotated password reaches a warm container's new connections."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import boto3
import psycopg
import pytest
from moto import mock_aws

from shared.config import get_settings
from shared.db import connect, get_pool, reset_pool
from shared.db.connection import database_url
from tooling.local.services import LocalServices


def test_given_the_pooled_url_when_a_startup_option_is_sent_then_the_pooler_refuses_it(
    services: LocalServices, database_url: str
) -> None:
    # Given the request path's URL (through PgBouncer, as through RDS Proxy)
    pooled = get_settings().database_url
    assert pooled and urlsplit(pooled).port != urlsplit(database_url).port
    # When a client sends what the pool used to send, Then it is refused, as RDS Proxy refuses it
    with pytest.raises(psycopg.OperationalError, match="options"):
        psycopg.connect(pooled, options="-c statement_timeout=2000", connect_timeout=5).close()


def test_given_the_request_pool_when_used_then_it_works_through_the_pooler_with_the_servers_timeout(
    database_url: str,
) -> None:
    reset_pool()
    with get_pool().connection() as conn:
        # The statement timeout is the pooler's connect query (the server default on RDS), not the client's
        timeout = conn.execute("SHOW statement_timeout").fetchone()
        # And a query run many times is never a server-side prepared statement (it would not survive
        # the pooler's handing the next transaction to another server connection)
        for _ in range(12):
            conn.execute("SELECT %s::int", (1,)).fetchone()
        prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
    assert timeout == ("2s",)
    assert prepared == (0,)
    reset_pool()


def test_given_a_job_when_it_connects_then_directly_with_its_own_timeout(database_url: str) -> None:
    with connect(statement_timeout_ms=600_000) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("10min",)
        assert conn.info.port == psycopg.conninfo.conninfo_to_dict(database_url).get("port", conn.info.port)


@pytest.fixture
def rotating_secret(monkeypatch: pytest.MonkeyPatch):
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = client.create_secret(
            Name="tg-db", SecretString=json.dumps({"username": "tg", "password": "one"})
        )["ARN"]
        monkeypatch.setenv("TG_DB_SECRET_ARN", arn)
        monkeypatch.setenv("TG_DB_HOST", "proxy.example")
        monkeypatch.setenv("TG_DB_DIRECT_HOST", "instance.example")
        monkeypatch.setenv("TG_DB_NAME", "ticketguard")
        import shared.runtime_secrets as runtime_secrets

        monkeypatch.setattr(runtime_secrets, "_last_forced_refresh", [0.0])
        yield client, arn


def test_given_a_rotated_password_when_the_container_is_warm_then_new_connections_use_it(
    rotating_secret: tuple,
) -> None:
    client, arn = rotating_secret
    # Given a warm container that read the secret (the proxy's host for the pool, the instance for jobs)
    first = database_url(refresh=True)
    assert ":one@proxy.example" in first
    assert ":one@instance.example" in database_url(direct=True)
    # When the secret rotates
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"username": "tg", "password": "two"}))
    # Then within the forced-refresh interval a failed login does not hammer Secrets Manager...
    assert ":one@proxy.example" in database_url(refresh=True)
    # ...and after it (or after the cache's max age) the next connections use the new password
    import shared.runtime_secrets as runtime_secrets

    runtime_secrets._last_forced_refresh[0] -= runtime_secrets.FORCED_REFRESH_MIN_INTERVAL_S
    assert ":two@proxy.example" in database_url(refresh=True)
    assert ":two@instance.example" in database_url(direct=True)

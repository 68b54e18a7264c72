"""The migrations custom resource handler against a real PostgreSQL (CloudFormation event shapes)."""

from __future__ import annotations

import psycopg
import pytest
from pydantic import ValidationError

from functions.migrations.handler import PHYSICAL_ID, handler
from shared.db.migrations import discover
from tooling.local.gateway import LocalLambdaContext


def _event(request_type: str, **extra) -> dict:
    return {
        "RequestType": request_type,
        "ResourceType": "Custom::TicketGuardMigrations",
        "ResourceProperties": {"ServiceToken": "arn:token", "Fingerprint": "abc"},
        **extra,
    }


@pytest.fixture
def empty_database(services, monkeypatch):
    """A database with no migration applied yet (the template database has them all)."""
    import uuid

    from shared.db.connection import with_database

    name = f"tg_cr_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = with_database(services.database_url, name)
    monkeypatch.setenv("DATABASE_URL", url)
    from shared.config import get_settings

    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_given_an_empty_database_when_created_then_every_migration_is_applied_and_reported(empty_database):
    result = handler(_event("Create"), LocalLambdaContext("migrations", "req-1"))
    versions = [m.version for m in discover()]
    assert result["PhysicalResourceId"] == PHYSICAL_ID
    assert result["Data"] == {"Applied": ",".join(versions), "Count": len(versions)}
    with psycopg.connect(empty_database) as conn:
        applied = [
            row[0] for row in conn.execute("SELECT version FROM intel.schema_migrations ORDER BY version")
        ]
    assert applied == versions


def test_given_a_migrated_database_when_updated_then_nothing_is_applied_twice(empty_database):
    handler(_event("Create"), LocalLambdaContext("migrations", "req-1"))
    result = handler(
        _event("Update", PhysicalResourceId=PHYSICAL_ID, OldResourceProperties={}),
        LocalLambdaContext("migrations", "req-1"),
    )
    assert result["Data"] == {"Applied": "none", "Count": 0}


def test_given_a_delete_when_handled_then_the_schema_is_left_alone(empty_database):
    result = handler(
        _event("Delete", PhysicalResourceId="keep-me"), LocalLambdaContext("migrations", "req-1")
    )
    assert result == {"PhysicalResourceId": "keep-me"}
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT to_regclass('intel.schema_migrations')").fetchone() == (None,)


def test_given_an_unknown_request_type_when_handled_then_it_fails_before_touching_the_database():
    with pytest.raises(ValidationError, match="RequestType"):
        handler(_event("Rollback"), LocalLambdaContext("migrations", "req-1"))

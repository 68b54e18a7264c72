"""Shared fixtures: one embedded PostgreSQL and Redis per test session (per xdist worker), a fresh
database cloned from a migrated template for every test that asks for one, a flushed Redis."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis as redis_lib

from shared.config import get_security_settings, get_settings, get_thresholds
from shared.db import apply_migrations, reset_pool
from shared.db.connection import with_database
from tests.fixtures.environment import SKIP_PREFIX
from tooling.local.services import LocalServices

# Each room adds its fixture module here (tests/fixtures/<room>.py).
pytest_plugins: list[str] = [
    "tests.fixtures.api",
    "tests.fixtures.etl",
    "tests.fixtures.ml",
    "tests.fixtures.chain",
    "tests.fixtures.infra",
    "tests.fixtures.drift",
    "tests.fixtures.hang",
    "tests.fixtures.faults",
    "tests.fixtures.siem",
    "tests.fixtures.admin",
]

TEMPLATE_DB = "tg_template"


def _reset_cached_settings() -> None:
    get_settings.cache_clear()
    get_thresholds.cache_clear()
    get_security_settings.cache_clear()
    reset_pool()


@pytest.fixture(scope="session")
def services() -> Iterator[LocalServices]:
    """Embedded servers for this session (or DATABASE_URL / REDIS_URL when set)."""
    with LocalServices.from_env() as running:
        yield running


@pytest.fixture(scope="session")
def template_database(services: LocalServices) -> str:
    """A database with every migration applied, cloned per test (CREATE DATABASE ... TEMPLATE)."""
    assert services.database_url
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    template_url = with_database(services.database_url, TEMPLATE_DB)
    with psycopg.connect(template_url) as conn:
        apply_migrations(conn)
    return template_url


@pytest.fixture
def database_url(
    services: LocalServices, template_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh, migrated, empty database for one test; DATABASE_URL (pooled) and DATABASE_DIRECT_URL
    point at it; the direct URL is returned."""
    assert services.database_url
    name = f"tg_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    url = with_database(services.database_url, name)
    # The code under test reaches it as deployed: the request path through the pooler (PgBouncer in
    # transaction mode, RDS Proxy's stand-in), jobs and migrations directly. The test's own setup
    # and checks use the direct URL returned here.
    monkeypatch.setenv("DATABASE_URL", services.pooled_url(url) or url)
    monkeypatch.setenv("DATABASE_DIRECT_URL", url)
    _reset_cached_settings()
    yield url
    _reset_cached_settings()
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection to this test's fresh database (autocommit, so other connections see writes)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def redis_url(services: LocalServices, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The session's Redis, flushed; REDIS_URL points at it."""
    assert services.redis_url
    client = redis_lib.Redis.from_url(services.redis_url)
    client.flushall()
    monkeypatch.setenv("REDIS_URL", services.redis_url)
    _reset_cached_settings()
    yield services.redis_url
    client.flushall()
    _reset_cached_settings()


@pytest.fixture
def redis_client(redis_url: str) -> redis_lib.Redis:
    return redis_lib.Redis.from_url(redis_url)


TEST_ARCHIVE_MASTER_KEY = base64.b64encode(bytes(range(64))).decode()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never see the developer's shell settings or each other's cached settings."""
    monkeypatch.setenv("TG_ENVIRONMENT", "test")
    monkeypatch.delenv("DATABASE_DIRECT_URL", raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "ticketguard")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "TicketGuard")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"))
    # The archive's local master key (shared/retention/keyring.py), never the developer's file.
    monkeypatch.setenv("TG_ARCHIVE_MASTER_KEY", TEST_ARCHIVE_MASTER_KEY)
    monkeypatch.delenv("TG_ARCHIVE_MASTER_KEY_FILE", raising=False)
    monkeypatch.delenv("TG_ARCHIVE_KMS_KEY_ID", raising=False)
    _reset_cached_settings()
    yield
    _reset_cached_settings()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Tests skipped for a missing environment, counted where nobody can miss it (in CI they fail)."""
    missing = [r for r in terminalreporter.stats.get("skipped", []) if SKIP_PREFIX in str(r.longrepr)]
    if missing:
        terminalreporter.write_sep(
            "!",
            f"{len(missing)} test(s) did NOT run: this machine lacks what they need (see MissingEnvironment above)",
            red=True,
            bold=True,
        )

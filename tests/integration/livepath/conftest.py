"""A live-path stack on the session's servers: the replay's environment, a fresh database per replay."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg.conninfo import conninfo_to_dict

from tooling.livepath.stack import ENVIRONMENT, Stack
from tooling.local.services import LocalServices


@pytest.fixture
def live_stack(
    services: LocalServices, template_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    assert services.database_url and services.redis_url
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in ("DATABASE_URL", "DATABASE_DIRECT_URL", "REDIS_URL"):
        # Set, then deleted: monkeypatch then restores the value from before the test even when it was
        # unset, which a bare delenv does not record; a cell's database (the replay points these at it,
        # tooling.livepath.stack) would outlive the test and the database.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    template = conninfo_to_dict(template_database)["dbname"]
    made = Stack(services.database_url, services.redis_url, template=str(template))
    yield made
    made.close()

"""Where the replays run: one embedded PostgreSQL and Redis for a whole evaluation (or the ones
DATABASE_URL / REDIS_URL name), a migrated template database, and a fresh database per cell
(CREATE DATABASE ... TEMPLATE: a file copy, not a rerun of the migrations); Redis emptied between
cells (each cell's database of Redis: tooling.livepath.workers). The handlers read their configuration from the environment, as on Lambda: each cell points it
at its own database and forgets the clients and pools of the previous one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from shared.names import SERVICE

TEMPLATE_PREFIX = "tg_live_template_"
# The replay's process environment: no EMF or X-Ray output, the handlers' info logs off (a line per
# purchase), the rate limits off (they count wall-clock time; see tooling.livepath.path), and patient
# timeouts: on a shared laptop a 200 ms stall of Redis would switch a request (and, through the
# breaker, a second of wall clock: hundreds of simulated purchases) to the degraded PostgreSQL-only
# path. The replay measures decisions, not latency (`make bench-api` does that); a degraded answer
# is still counted and reported.
ENVIRONMENT = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": SERVICE,
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "LOG_LEVEL": "WARNING",
    "TG_RATELIMIT_ENABLED": "false",
    "TG_LOCAL_POOLER": "off",
    "TG_REDIS_TIMEOUT_S": "2",
    "TG_REQUEST_TIMEOUT_S": "10",
}


class Stack:
    """A started server pair and its template database."""

    def __init__(self, server_url: str, redis_url: str, template: str | None = None) -> None:
        """`template`: an already migrated database to clone (kept); else one is made (and dropped)."""
        from shared.db import apply_migrations
        from shared.db.connection import with_database

        self.server_url = server_url
        self.redis_url = redis_url
        self.owns_template = template is None
        self.template = template or f"{TEMPLATE_PREFIX}{uuid.uuid4().hex[:10]}"
        if self.owns_template:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {self.template}")
            with psycopg.connect(with_database(server_url, self.template), autocommit=True) as conn:
                apply_migrations(conn)

    @contextmanager
    def cell_database(self, keep: bool = False) -> Iterator[str]:
        """A fresh migrated database, the environment pointed at it and at an empty Redis; dropped
        afterwards unless `keep`."""
        from shared.db.connection import with_database

        name = f"tg_live_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.server_url, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name} TEMPLATE {self.template}")
            # A scratch database: a commit need not wait for its WAL flush (durability only, the
            # same statements and transactions; the replay commits thousands of small ones).
            admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
        url = with_database(self.server_url, name)
        _point_at(url, self.redis_url)
        try:
            yield url
        finally:
            _forget_clients()
            if not keep:
                with psycopg.connect(self.server_url, autocommit=True) as admin:
                    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        if not self.owns_template:
            return
        with psycopg.connect(self.server_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")


def _forget_clients() -> None:
    from shared.cache.clients import reset_redis
    from shared.config import get_settings, get_thresholds
    from shared.db import reset_pool
    from shared.scoring.service import reset_default_deps

    reset_pool()
    reset_redis()
    reset_default_deps()
    get_settings.cache_clear()
    get_thresholds.cache_clear()


def _point_at(database_url: str, redis_url: str) -> None:
    import redis

    os.environ["DATABASE_URL"] = database_url
    os.environ["DATABASE_DIRECT_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    redis.Redis.from_url(redis_url).flushdb()  # its own database: a parallel cell's is another
    _forget_clients()


@contextmanager
def stack() -> Iterator[Stack]:
    """The servers (embedded unless DATABASE_URL / REDIS_URL name others) and the template database;
    the replay's environment set for the duration."""
    from tooling.local.services import LocalServices

    previous: dict[str, Any] = {
        name: os.environ.get(name)
        for name in (*ENVIRONMENT, "DATABASE_URL", "DATABASE_DIRECT_URL", "REDIS_URL")
    }
    os.environ.update(ENVIRONMENT)
    try:
        with LocalServices(
            database_url=os.environ.get("DATABASE_URL"), redis_url=os.environ.get("REDIS_URL")
        ) as services:
            assert services.database_url and services.redis_url
            made = Stack(services.database_url, services.redis_url)
            try:
                yield made
            finally:
                made.close()
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _forget_clients()

"""Connections to PostgreSQL with timeouts, so that no caller hangs on a dead database."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from shared.breaker import CircuitBreaker
from shared.config import get_settings
from shared.errors import ConfigurationError, DependencyUnavailable

_pool: ConnectionPool | None = None
_pool_lock = threading.Lock()


class DatabaseCircuitOpen(PoolTimeout):
    """PostgreSQL failed a moment ago: refused at once instead of waiting the pool timeout again
    (a PoolTimeout, so every caller that handles an unavailable database handles this too)."""


class GuardedPool(ConnectionPool):
    """The request paths' pool behind a circuit breaker: while PostgreSQL is down, one request per
    `breaker.open_s` waits for a connection (the probe) and the others fail at once, so that an
    outage under load cannot hold every server thread for the pool timeout."""

    def __init__(self, *args: Any, breaker: CircuitBreaker, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.breaker = breaker

    @contextlib.contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        if not self.breaker.allow():
            raise DatabaseCircuitOpen("PostgreSQL failed a moment ago; not retried yet")
        try:
            with super().connection(timeout=timeout) as conn:
                yield conn
        except psycopg.errors.QueryCanceled:
            raise  # a statement timeout: the server is there, only this statement was slow
        except psycopg.OperationalError as exc:
            # Connection-level failures only (refused, broken, pool timeout): a constraint
            # violation or a bad query says nothing about the server's health.
            self.breaker.failed()
            self._drop_broken_idle()
            if isinstance(exc, PoolTimeout) or _is_bad_password(exc):
                # Perhaps the password rotated: the pool's next connection attempts read it anew.
                with contextlib.suppress(Exception):
                    database_url(refresh=True)
            raise
        self.breaker.succeeded()

    def _drop_broken_idle(self) -> None:
        """A server that died leaves every idle connection broken: have the pool test and replace
        them in the background, so the next probe does not pick a dead one."""
        with contextlib.suppress(Exception):
            threading.Thread(target=self.check, name="pool-check", daemon=True).start()


def database_url(*, direct: bool = False, refresh: bool = False) -> str:
    """The URL as it is now: from the rotating secret on a deployed function, else DATABASE_URL
    (the pooled one) or DATABASE_DIRECT_URL (`direct`, defaulting to DATABASE_URL)."""
    from shared.runtime_secrets import current_database_url

    url = current_database_url(direct=direct, refresh=refresh)
    if url:
        return url
    settings = get_settings()
    url = (settings.database_direct_url if direct else None) or settings.database_url
    if not url:
        raise ConfigurationError("DATABASE_URL is not set")
    return url


def _pooled_conninfo() -> str:
    """Called by the pool for each new connection: a rotated password is picked up without a cold start."""
    return database_url()


def _pooled_kwargs() -> dict[str, object]:
    """No startup parameter beyond the name (RDS Proxy refuses `options`; the statement timeout is the
    server's, or locally PgBouncer's, default), and no server-side prepared statements: they do not
    survive a transaction pooler (PgBouncer drops them, RDS Proxy pins the session for them)."""
    return {
        "connect_timeout": max(1, int(get_settings().db_connect_timeout_s)),
        "application_name": "ticketguard",
        "prepare_threshold": None,
        "autocommit": True,
    }


def connect(
    url: str | None = None, *, autocommit: bool = False, statement_timeout_ms: int | None = None
) -> psycopg.Connection:
    """One connection to the server itself (DATABASE_DIRECT_URL), never through the pooler; for jobs,
    migrations and tools, which hold sessions (advisory locks) and set their own statement timeout
    as a startup parameter. Request paths use `get_pool()`."""
    settings = get_settings()
    timeout_ms = settings.db_statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
    try:
        return psycopg.connect(
            url or database_url(direct=True),
            autocommit=autocommit,
            connect_timeout=max(1, int(settings.db_connect_timeout_s)),
            options=f"-c statement_timeout={timeout_ms}",
            application_name="ticketguard-job",
        )
    except psycopg.OperationalError as exc:
        if _is_bad_password(exc) and url is None:
            database_url(direct=True, refresh=True)  # the next attempt reads the rotated secret
        raise DependencyUnavailable(f"PostgreSQL is unreachable: {_first_line(exc)}") from exc


def _is_bad_password(exc: BaseException) -> bool:
    return "password authentication failed" in str(exc)


def get_pool() -> ConnectionPool:
    """Process-wide pool (one per Lambda container), opened lazily."""
    global _pool
    with _pool_lock:
        if _pool is None:
            settings = get_settings()
            database_url()  # a missing configuration fails here, in the caller, not in a pool worker
            _pool = GuardedPool(
                _pooled_conninfo,
                breaker=CircuitBreaker("postgres", settings.db_circuit_open_s),
                min_size=1,
                max_size=8,
                kwargs=_pooled_kwargs(),
                timeout=settings.db_connect_timeout_s,
                open=True,
                name="ticketguard",
            )
        return _pool


def reset_pool() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
        _pool = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def with_database(url: str, dbname: str) -> str:
    """The same server URL, pointing at another database."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))

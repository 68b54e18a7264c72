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
        except psycopg.OperationalError:
            # Connection-level failures only (refused, broken, pool timeout): a constraint
            # violation or a bad query says nothing about the server's health.
            self.breaker.failed()
            self._drop_broken_idle()
            raise
        self.breaker.succeeded()

    def _drop_broken_idle(self) -> None:
        """A server that died leaves every idle connection broken: have the pool test and replace
        them in the background, so the next probe does not pick a dead one."""
        with contextlib.suppress(Exception):
            threading.Thread(target=self.check, name="pool-check", daemon=True).start()


def database_url() -> str:
    url = get_settings().database_url
    if not url:
        raise ConfigurationError("DATABASE_URL is not set")
    return url


def _connect_kwargs() -> dict[str, object]:
    settings = get_settings()
    return {
        "connect_timeout": max(1, int(settings.db_connect_timeout_s)),
        "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
        "application_name": "ticketguard",
    }


def connect(
    url: str | None = None, *, autocommit: bool = False, statement_timeout_ms: int | None = None
) -> psycopg.Connection:
    """One connection; for jobs and tools. Request paths use `get_pool()`."""
    kwargs = _connect_kwargs()
    if statement_timeout_ms is not None:
        kwargs["options"] = f"-c statement_timeout={statement_timeout_ms}"
    try:
        return psycopg.connect(url or database_url(), autocommit=autocommit, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        raise DependencyUnavailable(f"PostgreSQL is unreachable: {_first_line(exc)}") from exc


def get_pool() -> ConnectionPool:
    """Process-wide pool (one per Lambda container), opened lazily."""
    global _pool
    with _pool_lock:
        if _pool is None:
            settings = get_settings()
            _pool = GuardedPool(
                database_url(),
                breaker=CircuitBreaker("postgres", settings.db_circuit_open_s),
                min_size=1,
                max_size=8,
                kwargs={**_connect_kwargs(), "autocommit": True},
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

"""Connections to PostgreSQL with timeouts, so that no caller hangs on a dead database."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from shared.breaker import CircuitBreaker
from shared.config import get_settings
from shared.db.deadline import UNANSWERED_GRACE_S, BoundedConnection, current_deadline
from shared.errors import ConfigurationError, DependencyUnavailable

_pool: GuardedPool | None = None
_pool_lock = threading.Lock()


class DatabaseCircuitOpen(PoolTimeout):
    """PostgreSQL failed a moment ago: refused at once instead of waiting the pool timeout again
    (a PoolTimeout, so every caller that handles an unavailable database handles this too)."""


class GuardedPool(ConnectionPool):
    """The request paths' pool behind a circuit breaker: while PostgreSQL is down, one request per
    `breaker.open_s` waits for a connection (the probe) and the others fail at once, so that an
    outage under load cannot hold every server thread for the pool timeout.

    A block run under a deadline (`deadline=`, else the request's `deadline_scope`) waits for a
    connection and for every answer no longer than that (shared.db.deadline); when less time is left
    than the server's statement timeout, the block runs in one transaction whose statement timeout is
    what is left (`SET LOCAL`: the server cancels the statement itself when it is slow). A server that
    does not answer by the deadline opens the breaker like one that refuses connections."""

    def __init__(self, *args: Any, breaker: CircuitBreaker, statement_timeout_ms: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.breaker = breaker
        self.statement_timeout_ms = statement_timeout_ms

    @contextlib.contextmanager
    def connection(
        self, timeout: float | None = None, *, deadline: float | None = None
    ) -> Iterator[psycopg.Connection[Any]]:
        if deadline is None:
            deadline = current_deadline()
        elif (outer := current_deadline()) is not None:
            deadline = min(deadline, outer)
        if not self.breaker.allow():
            raise DatabaseCircuitOpen("PostgreSQL failed a moment ago; not retried yet")
        try:
            if deadline is not None:
                timeout = _within(deadline, self.timeout if timeout is None else timeout)
            with (
                super().connection(timeout=timeout) as conn,
                _bounded(conn, deadline, self.statement_timeout_ms),
            ):
                yield conn
        except psycopg.errors.QueryCanceled:
            raise  # a statement timeout: the server is there, only this statement was slow
        except psycopg.OperationalError as exc:
            # Connection-level failures only (refused, broken, pool timeout, no answer by the
            # deadline): a constraint violation or a bad query says nothing about the server's health.
            self.breaker.failed()
            self._drop_broken_idle()
            if isinstance(exc, PoolTimeout) or _is_bad_password(exc):
                # Perhaps the password rotated: the pool's next connection attempts read it anew.
                with contextlib.suppress(Exception):
                    database_url(refresh=True)
            raise
        self.breaker.succeeded()

    @staticmethod
    def check_connection(conn: Any) -> None:
        """The pool's check of an idle connection (`check()`), bounded: a server that stopped answering
        must not hold the checked connections out of the pool until it comes back."""
        if isinstance(conn, BoundedConnection):
            conn.wait_cap_s = get_settings().db_statement_timeout_ms / 1000 + UNANSWERED_GRACE_S
        try:
            ConnectionPool.check_connection(conn)
        finally:
            if isinstance(conn, BoundedConnection):
                conn.wait_cap_s = None

    def _drop_broken_idle(self) -> None:
        """A server that died leaves every idle connection broken: have the pool test and replace
        them in the background, so the next probe does not pick a dead one."""
        with contextlib.suppress(Exception):
            threading.Thread(target=self.check, name="pool-check", daemon=True).start()


SERVER_FIRST_MS = 100


def _within(deadline: float, timeout: float) -> float:
    """The pool wait: `timeout`, cut to what is left before `deadline` (the time is up: a PoolTimeout)."""
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        raise PoolTimeout("the request's time was up before a database connection was needed")
    return min(timeout, remaining)


@contextlib.contextmanager
def _bounded(
    conn: psycopg.Connection[Any], deadline: float | None, statement_timeout_ms: int
) -> Iterator[None]:
    """Run the block with `conn` bounded by `deadline` (see GuardedPool); a no-op without one."""
    if deadline is None or not isinstance(conn, BoundedConnection):
        yield
        return
    conn.deadline = deadline
    try:
        left_ms = int((deadline - time.perf_counter()) * 1000)
        if left_ms < statement_timeout_ms:
            # One round trip (simple protocol, two statements); the transaction ends with the block. The
            # server gives up a moment before the client does, so that a living server's own
            # cancellation (QueryCanceled: the connection stays usable) is the answer, not the deadline.
            server_ms = max(1, left_ms - SERVER_FIRST_MS)
            conn.execute(f"BEGIN; SET LOCAL statement_timeout = {server_ms}")
        try:
            yield
        except BaseException:
            _end_transaction(conn, "ROLLBACK")
            raise
        _end_transaction(conn, "COMMIT")
    finally:
        conn.deadline = None


def _end_transaction(conn: psycopg.Connection[Any], command: str) -> None:
    if not conn.closed and conn.info.transaction_status in (
        TransactionStatus.INTRANS,
        TransactionStatus.INERROR,
    ):
        if command == "ROLLBACK":
            with contextlib.suppress(psycopg.Error):  # the block's own error is the one to report
                conn.execute(command)
        else:
            conn.execute(command)


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


# Socket options (client-side: no startup parameter): a server or network path that vanished without a
# word (a failed-over instance, a dropped route) is noticed within seconds on an idle connection
# (keepalives) and on one with unacknowledged data (TCP_USER_TIMEOUT). A server that is stopped but
# whose kernel still answers (SIGSTOP) is not: that is the deadline's case (shared.db.deadline).
KEEPALIVES: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
}


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
        **KEEPALIVES,
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
            **KEEPALIVES,  # type: ignore[arg-type]
        )
    except psycopg.OperationalError as exc:
        if _is_bad_password(exc) and url is None:
            database_url(direct=True, refresh=True)  # the next attempt reads the rotated secret
        raise DependencyUnavailable(f"PostgreSQL is unreachable: {_first_line(exc)}") from exc


def _is_bad_password(exc: BaseException) -> bool:
    return "password authentication failed" in str(exc)


def get_pool() -> GuardedPool:
    """Process-wide pool (one per Lambda container), opened lazily."""
    global _pool
    with _pool_lock:
        if _pool is None:
            settings = get_settings()
            database_url()  # a missing configuration fails here, in the caller, not in a pool worker
            _pool = GuardedPool(
                _pooled_conninfo,
                breaker=CircuitBreaker("postgres", settings.db_circuit_open_s),
                statement_timeout_ms=settings.db_statement_timeout_ms,
                connection_class=BoundedConnection,
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

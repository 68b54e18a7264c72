"""The request path's time limit, as seen by PostgreSQL access, and the connection that keeps it.

A request's deadline (time.perf_counter() scale) is set once for its thread of work
(`deadline_scope`, by the API entry point and the scoring service); every pooled connection used
inside it waits no longer than that for anything: the pool, the server's answer to a statement, a
fetch. A server that is there but slow is stopped by its own statement timeout (set per transaction
from what is left, `SET LOCAL`: no startup parameter, nothing that pins a pooled session); a server
that does not answer at all (stopped, hung, a network path that drops packets) cannot run its timeout,
so the client gives up at the deadline itself (`BoundedConnection`) and throws the connection away.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import psycopg
from psycopg import errors

_deadline: ContextVar[float | None] = ContextVar("tg_request_deadline", default=None)

# A wait may outlive the server's own statement timeout by this much before the client gives up on a
# pooled connection that has no request deadline (the pool's own checks): the server is not answering.
UNANSWERED_GRACE_S = 1.0


class StatementDeadline(psycopg.OperationalError):
    """PostgreSQL did not answer before the request's deadline: the connection was abandoned (a
    connection-level failure, so the circuit breaker counts it and the API answers 503)."""


def current_deadline() -> float | None:
    return _deadline.get()


@contextlib.contextmanager
def deadline_scope(deadline: float | None) -> Iterator[None]:
    """Every pooled connection used inside keeps `deadline` (the earlier one, when already inside a scope)."""
    outer = _deadline.get()
    if deadline is not None and outer is not None:
        deadline = min(deadline, outer)
    token = _deadline.set(deadline if deadline is not None else outer)
    try:
        yield
    finally:
        _deadline.reset(token)


class BoundedConnection(psycopg.Connection[Any]):
    """A connection whose every wait on the server ends by `deadline` (or within `wait_cap_s` when it
    has none; None: unbounded). At that moment the connection is closed, so that it never returns to
    the pool with a statement still running, and StatementDeadline raised."""

    deadline: float | None = None
    wait_cap_s: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        limit = self._limit()
        if limit is not None:
            timeout = limit if timeout is None else min(timeout, limit)
        try:
            return super().wait(gen, interval, timeout)
        except errors._WaitTimeout as exc:
            self._abandon()
            raise StatementDeadline("PostgreSQL did not answer within the request's time") from exc

    def _limit(self) -> float | None:
        if self.deadline is not None:
            return max(0.0, self.deadline - time.perf_counter())
        return self.wait_cap_s

    def _abandon(self) -> None:
        """Closed, not cancelled: libpq's cancel request waits for the server's answer, and a server
        that answers nothing would hold the thread that sends it. What the server still runs of the
        statement its own statement timeout ends (what was left of the request, set per transaction
        by the pool, or the server's default); a pooler drops its server connection with the client's."""
        with contextlib.suppress(Exception):
            self.close()

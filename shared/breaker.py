"""A circuit breaker per dependency, so that a dead server costs one wait per probe interval per
container instead of one wait per request.

Closed: every call goes through. A failure opens it for `open_s`: calls fail at once. When that time
is up, exactly one call (the probe) goes through while the others still fail at once; the probe's
success closes the breaker, its failure opens it again. Without the single probe, every request
queued behind an outage would wait out its own timeout the moment the breaker reopened.
"""

from __future__ import annotations

import threading
import time


class CircuitBreaker:
    def __init__(self, name: str, open_s: float = 1.0) -> None:
        self.name = name
        self.open_s = open_s
        self._lock = threading.Lock()
        self._open_until = 0.0  # 0.0: closed

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._open_until > 0.0

    def allow(self) -> bool:
        """True when the caller may use the dependency now (closed, or it is this caller's turn to probe)."""
        with self._lock:
            if self._open_until == 0.0:
                return True
            now = time.monotonic()
            if now < self._open_until:
                return False
            # This caller probes. Its failure or success settles the state; until then (or, should it
            # never report, for another open_s) the others keep failing fast.
            self._open_until = now + self.open_s
            return True

    def succeeded(self) -> None:
        with self._lock:
            self._open_until = 0.0

    def failed(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.open_s

    def reset(self) -> None:
        self.succeeded()

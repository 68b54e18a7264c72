"""The rate limits of one process, for when Redis is unavailable.

The same sliding logs as the Redis script (check every window, then count the hit in all or none),
kept in this process's memory. It is an approximation, and the response and a metric say so: each
Lambda container (each local server process) counts on its own, so N warm containers admit up to N
times a limit. That still bounds an abuser, where skipping the limits bounded nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence


class LocalWindows:
    """Sliding logs keyed like the Redis ones, bounded in memory (the least recently hit go first)."""

    def __init__(self, max_keys: int = 50_000) -> None:
        self.max_keys = max_keys
        self._logs: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, windows: Sequence[tuple[str, int, int]], now: float | None = None) -> tuple[bool, int, int]:
        """`windows`: (key, limit, window seconds). Returns (allowed, seconds to wait, index of the
        refusing window or -1): the same answer as the Redis script, for the same history."""
        now = time.monotonic() if now is None else now
        with self._lock:
            longest_wait, refused_by = -1.0, -1
            for index, (key, limit, window_s) in enumerate(windows):
                log = self._log(key)
                while log and log[0] <= now - window_s:
                    log.popleft()
                if len(log) >= limit:
                    wait = log[0] + window_s - now
                    if wait > longest_wait:
                        longest_wait, refused_by = wait, index
            if refused_by >= 0:
                return False, max(1, math.ceil(longest_wait)), refused_by
            for key, _, _ in windows:
                self._log(key).append(now)
            self._evict()
            return True, 0, -1

    def _log(self, key: str) -> deque[float]:
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = deque()
        self._logs.move_to_end(key)
        return log

    def _evict(self) -> None:
        while len(self._logs) > self.max_keys:
            self._logs.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._logs.clear()

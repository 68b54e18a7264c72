"""The standalone gateway's pre-forked server model (issue 29, tooling/local/gateway_server.py): several
worker processes on one port, each running its function inline, and none left behind when the parent
is told to stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

WORKERS = 3


# The gateway runs in an interpreter of its own, not in a fork of this test process: a fork of a pytest
# worker carries the session's embedded servers and their clean-up with it (its end once took the
# worker's PostgreSQL data directory away, and forty tests after it failed to connect).
_SERVE = """
import json, os, sys
from shared.api.spec import operations
from tooling.local.gateway import LocalGateway
from tooling.local.gateway_server import serve_forked

def answer_with_pid(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"pid": os.getpid()})}

handlers = {op.function: answer_with_pid for op in operations() if op.function}
gateway = LocalGateway(handlers=handlers, inline=True)
sys.exit(serve_forked(gateway.app, "127.0.0.1", int(sys.argv[1]), int(sys.argv[2])))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def _wait_until_up(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="the pre-forked gateway needs SO_REUSEPORT")
def test_given_the_forked_gateway_when_many_connections_call_then_several_workers_answer_and_all_stop() -> (
    None
):
    # Given the gateway pre-forked into three workers on one port
    port = _free_port()
    parent = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(port), str(WORKERS)], stdin=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/health"
    try:
        _wait_until_up(url)
        workers = _children(parent.pid)
        assert len(workers) == WORKERS
        # When fresh connections call the public health route
        pids = set()
        for _ in range(60):
            with httpx.Client() as client:  # a new connection each: the kernel spreads them
                response = client.get(url)
            assert response.status_code == 200 and "x-amzn-requestid" in response.headers
            pids.add(response.json()["pid"])
        # Then the answers come from the workers (more than one of them), never from the parent
        assert pids <= set(workers) and len(pids) > 1
    finally:
        # And when the parent is told to stop, it and its workers are gone
        parent.send_signal(signal.SIGTERM)
        exit_code = parent.wait(20)
    assert exit_code == 0
    assert all(_gone(pid) for pid in workers)

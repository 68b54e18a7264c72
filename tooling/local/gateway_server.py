"""How the local gateway is served (tooling/local/gateway.py): uvicorn's settings, and the pre-forked
server model (`python -m tooling.local.gateway --server forked`).

The pre-forked model: the parent builds the application once (imports, the functions' handlers, the
OpenAPI document), then forks `workers` processes; each binds its own socket to the same port with
SO_REUSEPORT (the kernel spreads the connections over them) and serves it with uvicorn, running each
function in its event loop's thread, one request at a time, as a Lambda instance runs one event at a
time: the workers are the concurrency. A child starts in milliseconds (nothing to import again) and
nobody kills it for a late answer to a ping (uvicorn's supervisor does, at 5 s, under load). The parent
forwards SIGTERM/SIGINT to the children and waits for them; a child dies with its parent (PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from shared.observability import logger

_PR_SET_PDEATHSIG = 1
PROFILE_DIR_ENV = "TG_GATEWAY_PROFILE_DIR"  # set: each worker writes its cProfile there when it stops


def server_config(app: Any, host: str, port: int, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # access lines hold client IPs in clear; the handlers log, redacted
        lifespan="off",
        timeout_graceful_shutdown=5,
        # The client address is the connection's, like API Gateway's sourceIp: X-Forwarded-For and
        # Forwarded from a local client must not choose the IP that rate limits and blocklists see.
        proxy_headers=False,
        **extra,
    )


def _listening_socket(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on an accepted connection only when its socket says
    # so (proto 0 does not), and without it the response's body waits behind its headers for the
    # client's delayed ACK (40 ms a request); the listening socket's TCP_NODELAY is inherited as well.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _child(app: Any, host: str, port: int) -> int:
    """One worker: its own socket on the shared port, uvicorn serving it until SIGTERM/SIGINT."""
    try:
        with_libc = ctypes.CDLL(None, use_errno=True)
        with_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)  # die with the parent, never orphaned
        sock = _listening_socket(host, port)
        server = uvicorn.Server(server_config(app, host, port))
        profile_dir = os.environ.get(PROFILE_DIR_ENV)
        if not profile_dir:
            server.run(sockets=[sock])
            return 0
        # Where a request's time goes inside a worker (the gateway's own code vs the function's),
        # with the benchmark's real load: `python -m pstats DIR/worker-PID.prof`.
        import cProfile

        # uvicorn re-raises the signal it stopped on, under the handler it found: a no-op one lets the
        # worker live on to write its profile.
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, lambda signum, frame: None)
        with cProfile.Profile() as profile:
            server.run(sockets=[sock])
        profile.dump_stats(Path(profile_dir) / f"worker-{os.getpid()}.prof")
        return 0
    except BaseException:
        logger.exception("gateway worker failed", extra={"pid": os.getpid()})
        return 1


def serve_forked(app: Any, host: str, port: int, workers: int) -> int:
    """Fork `workers` children serving `app` on host:port; wait for them. The exit status: 0 when every
    child stopped cleanly."""
    if port == 0:
        raise ValueError("the pre-forked gateway needs a port of its own (its workers bind it each)")
    children: list[int] = []
    for _ in range(max(1, workers)):
        pid = os.fork()
        if pid == 0:
            os._exit(_child(app, host, port))
        children.append(pid)

    stopping: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        exit_code = os.waitstatus_to_exitcode(code)
        # uvicorn re-raises the signal it stopped on once shut down: a child ended by the SIGTERM we
        # forwarded stopped cleanly.
        if stopping and exit_code in (-signal.SIGTERM, -signal.SIGINT):
            exit_code = 0
        status = status or exit_code
    return status

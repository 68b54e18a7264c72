"""Per-dependency health: PostgreSQL and the model are hard dependencies, Redis and the chain soft.

The checks run concurrently, each in a daemon thread, under one deadline for the whole report
(HEALTH_DEADLINE_S, documented in openapi.yaml): a check that has not answered by then is `down`.
Daemon threads rather than a ThreadPoolExecutor: a hung check is left behind without holding up the
answer, later reports (a pool's workers would stay busy with it) or the process's exit (the
executor's workers are joined at exit). `check_health()` is the full report (GET /health/details);
the anonymous GET /health answers its `anonymous()` view, statuses only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait

from shared.config import get_settings
from shared.health.models import DependencyStatus, HealthChecks, HealthResponse

HEALTH_TIMEOUT_S = 2.0  # each probe's own connect/read timeout
HEALTH_DEADLINE_S = 2.5  # the whole report: every check runs concurrently within it

# The local runner's in-process EVM has no RPC URL; it registers a probe here instead.
ChainProbe = Callable[[], int]
_chain_probe: list[ChainProbe] = []


def register_chain_probe(probe: ChainProbe | None) -> None:
    _chain_probe.clear()
    if probe is not None:
        _chain_probe.append(probe)


def _timed(check: Callable[[], str | None]) -> DependencyStatus:
    started = time.perf_counter()
    try:
        version = check()
    except Exception as exc:
        return DependencyStatus(status="down", detail=_one_line(exc))
    return DependencyStatus(
        status="up", latency_ms=round((time.perf_counter() - started) * 1000, 3), version=version
    )


def _one_line(exc: BaseException) -> str:
    """The error's first line locally; only its class in the cloud (/health is public: no hostnames)."""
    if get_settings().environment not in {"local", "test"}:
        return type(exc).__name__
    text = str(getattr(exc, "message", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:200]


def check_postgres() -> DependencyStatus:
    if not get_settings().database_url:
        return DependencyStatus(status="down", detail="DATABASE_URL is not set")

    def probe() -> str | None:
        from shared.db import get_pool

        with get_pool().connection(deadline=time.perf_counter() + HEALTH_TIMEOUT_S) as conn:
            row = conn.execute("SELECT current_setting('server_version')").fetchone()
        return str(row[0]) if row else None

    return _timed(probe)


def check_redis() -> DependencyStatus:
    settings = get_settings()
    if not settings.redis_url:
        return DependencyStatus(status="not_configured")

    def probe() -> str | None:
        from shared.cache.clients import make_client

        # Its own short-lived client with the probe's timeout: the health answer must not wait on, or
        # trip, the request path's circuit breaker.
        client = make_client(settings.redis_url or "", timeout_s=HEALTH_TIMEOUT_S)
        try:
            info = client.info("server")
        finally:
            client.close()
        return str(info.get("redis_version"))

    return _timed(probe)


def check_chain() -> DependencyStatus:
    if _chain_probe:
        probe = _chain_probe[0]
        return _timed(lambda: f"block {probe()}")
    url = get_settings().chain_rpc_url
    if not url:
        return DependencyStatus(status="not_configured")

    def rpc() -> str | None:
        from web3 import HTTPProvider, Web3

        w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": HEALTH_TIMEOUT_S}))
        return f"block {w3.eth.block_number}"

    return _timed(rpc)


def check_model() -> DependencyStatus:
    def load() -> str | None:
        from shared.model import load_model

        return load_model().version

    return _timed(load)


def _in_thread(name: str, check: Callable[[], DependencyStatus]) -> Future[DependencyStatus]:
    future: Future[DependencyStatus] = Future()

    def run() -> None:
        try:
            future.set_result(check())
        except Exception as exc:  # a check reports its own failures; this one escaped it
            future.set_result(DependencyStatus(status="down", detail=_one_line(exc)))

    threading.Thread(target=run, name=f"health-{name}", daemon=True).start()
    return future


def check_health(deadline_s: float = HEALTH_DEADLINE_S) -> HealthResponse:
    """The full report (versions, latencies, details), within `deadline_s` whatever a dependency does."""
    probes = {"postgres": check_postgres, "redis": check_redis, "chain": check_chain, "model": check_model}
    futures = {name: _in_thread(name, probe) for name, probe in probes.items()}
    wait(futures.values(), timeout=deadline_s)
    late = DependencyStatus(status="down", detail=f"no answer within {deadline_s:g} s")
    checks = HealthChecks.model_validate(
        {name: future.result() if future.done() else late for name, future in futures.items()}
    )
    if checks.postgres.status != "up" or checks.model.status != "up":
        overall = "down"
    elif checks.redis.status == "down" or checks.chain.status == "down":
        overall = "degraded"
    else:
        overall = "ok"
    return HealthResponse(status=overall, checks=checks)

"""Per-dependency health: PostgreSQL and the model are hard dependencies, Redis and the chain soft."""

from __future__ import annotations

import time
from collections.abc import Callable

from shared.api.models import DependencyStatus, HealthChecks, HealthResponse
from shared.config import get_settings

HEALTH_TIMEOUT_S = 2.0

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

        with get_pool().connection(timeout=HEALTH_TIMEOUT_S) as conn:
            row = conn.execute("SELECT current_setting('server_version')").fetchone()
        return str(row[0]) if row else None

    return _timed(probe)


def check_redis() -> DependencyStatus:
    settings = get_settings()
    if not settings.redis_url:
        return DependencyStatus(status="not_configured")

    def probe() -> str | None:
        import redis

        client = redis.Redis.from_url(
            settings.redis_url or "",
            socket_timeout=HEALTH_TIMEOUT_S,
            socket_connect_timeout=HEALTH_TIMEOUT_S,
        )
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


def check_health() -> HealthResponse:
    checks = HealthChecks(
        postgres=check_postgres(), redis=check_redis(), chain=check_chain(), model=check_model()
    )
    if checks.postgres.status != "up" or checks.model.status != "up":
        overall = "down"
    elif checks.redis.status == "down" or checks.chain.status == "down":
        overall = "degraded"
    else:
        overall = "ok"
    return HealthResponse(status=overall, checks=checks)

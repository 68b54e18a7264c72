"""Section 5 of the monitoring page (spec 4.1): system health. Each service's status (API, PostgreSQL,
Redis, chain, model: shared.health.checks, the report of GET /health/details) and the resources as the
serving instance sees them: CPU load, memory, disk, the database's size and Redis's memory."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import tempfile
from pathlib import Path
from typing import Any

import psycopg
import redis

from shared.health.checks import check_health


def _meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes (Linux, Lambda included); {} elsewhere."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                found[name] = int(parts[0]) * 1024
    return found


def _percent(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def host_resources() -> dict[str, Any]:
    cpus = os.cpu_count() or 1
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    memory = _meminfo()
    total, available = memory.get("MemTotal", 0), memory.get("MemAvailable", 0)
    disk = shutil.disk_usage(tempfile.gettempdir())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_count": cpus,
        "load_1m": round(load[0], 2),
        "cpu_percent": min(100.0, round(100.0 * load[0] / cpus, 1)),
        "memory_total_bytes": total or None,
        "memory_used_percent": _percent(total - available, total),
        "process_max_rss_bytes": usage.ru_maxrss * 1024,
        "disk_total_bytes": disk.total,
        "disk_used_percent": _percent(disk.used, disk.total),
    }


def store_resources(conn: psycopg.Connection, client: redis.Redis | None) -> dict[str, Any]:
    row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    found: dict[str, Any] = {
        "postgres_database_bytes": int(row[0]) if row else None,
        "redis_used_bytes": None,
    }
    if client is not None:
        with contextlib.suppress(redis.RedisError, OSError):
            info = client.info("memory")
            found["redis_used_bytes"] = int(info.get("used_memory", 0))
    return found


def system_section(conn: psycopg.Connection, client: redis.Redis | None) -> dict[str, Any]:
    report = check_health()
    services = {"api": {"status": "up", "detail": "this answer"}}
    services.update(report.checks.model_dump())
    return {
        "status": report.status,
        "services": services,
        "resources": host_resources() | store_resources(conn, client),
    }

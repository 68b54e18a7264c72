"""Where a benchmark's CPU goes beyond its own process: the embedded servers (PostgreSQL's backends,
PgBouncer, Redis) by their process names, and the whole machine's busy time, read from /proc. A
request's cost is its process's CPU plus what it makes the servers spend; on two shared cores the sum
is what bounds throughput."""

from __future__ import annotations

import os
from pathlib import Path

SERVER_NAMES = {"postgres": "PostgreSQL", "pgbouncer": "PgBouncer", "redis-server": "Redis"}
SERVERS = tuple(SERVER_NAMES.values())


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its waited-for children, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of `pid` and its live children (uvicorn's worker processes)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return process_cpu_s(pid) + sum(tree_cpu_s(kid) for kid in kids)


def machine_busy_s() -> float:
    """All cores' busy time (user, nice, system, irq, softirq, steal), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def servers_cpu_s() -> dict[str, float]:
    """CPU seconds so far of each embedded server, by name (every PostgreSQL backend summed)."""
    spent = dict.fromkeys(SERVERS, 0.0)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            name = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if name in SERVER_NAMES:
            spent[SERVER_NAMES[name]] += process_cpu_s(int(proc.name))
    return spent

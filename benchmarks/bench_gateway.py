"""`make bench-gateway`: throughput and latency through the local API Gateway, today's server model
against the new one, in one run (issue 29 item 3).

Each gateway runs in its own process(es) (`python -m tooling.local.gateway --server MODEL`), in front of
the same scoring handler, the same embedded PostgreSQL and Redis and the same seeded marketplace. A load
generator in another process, pinned to one core (`os.sched_setaffinity`, what `taskset` does), sends
POST /api/v1/ml/predict/fraud over keep-alive connections:

- saturation: closed loop, every connection sends its next request as soon as the last one is answered;
  the answers a second are the gateway's saturation throughput;
- fixed rate: open loop at 500 requests/s (request i is due at t0 + i/rate; latency counts from that
  due time, so a queue in the server cannot hide), p50/p95/p99.

The gateway processes, PostgreSQL and Redis are not pinned: they share both cores, the generator's
included. The CPU each gateway spends per request (its processes' user + system time over the phase,
from /proc) is printed beside the figures, with the machine's load average; and the machine's whole CPU
per answer by part (the gateway, PostgreSQL, PgBouncer, Redis, the rest: benchmarks/machine_cpu.py), with
the answers a second the cores would give at that cost: what bounds the saturation throughput.

Limits raised for the benchmark, as in bench_api.py: the application's rate limits (every request comes
from 127.0.0.1) and the key's usage plan (a `benchmark` plan of 50,000 requests/s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine_cpu import machine_busy_s, servers_cpu_s, tree_cpu_s  # noqa: E402

BENCH_KEY = "tg-benchmark-key-0000000000"
PREDICT = "/api/v1/ml/predict/fraud"
TARGET_RATIO = 2.0  # new saturation throughput / today's
TARGET_P95_MS = 10.0  # at 500 requests/s offered
Sample = tuple[str, int, float]  # (wallet, ticket, price) of a seeded order


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# ----------------------------------------------------------------------------- load generator
def _request_bytes(port: int, sample: Sample, transaction_id: str) -> bytes:
    wallet, ticket, price = sample
    body = json.dumps(
        {"transaction_id": transaction_id, "wallet_address": wallet, "ticket_id": ticket, "price_paid": price}
    ).encode()
    head = (
        f"POST {PREDICT} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
        f"x-api-key: {BENCH_KEY}\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one request, read its whole response (the gateway always sends content-length); the status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


@dataclass
class Phase:
    """One phase of load: `rate` None is the closed loop (saturation)."""

    name: str
    duration_s: float
    rate: float | None
    connections: int


async def _run_phase(port: int, phase: Phase, samples: list[Sample]) -> dict[str, Any]:
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(phase.connections):
        await pool.put(await asyncio.open_connection("127.0.0.1", port))
    run_id, errors = uuid.uuid4().hex[:8], 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(10**9))

    async def one(due: float | None) -> None:
        nonlocal errors
        i = next(counter)
        reader, writer = await pool.get()
        started = due if due is not None else time.perf_counter()
        try:
            status = await _exchange(
                reader, writer, _request_bytes(port, samples[i % len(samples)], f"g-{run_id}-{i}")
            )
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        await pool.put((reader, writer))

    start = time.perf_counter() + 0.1
    end = start + phase.duration_s
    if phase.rate is None:

        async def loop() -> None:
            while time.perf_counter() < end:
                await one(None)

        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        await asyncio.gather(*(loop() for _ in range(phase.connections)))
    else:
        tasks = []
        for i in range(int(phase.rate * phase.duration_s)):
            due = start + i / phase.rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return {"latencies": latencies, "statuses": statuses, "errors": errors, "elapsed_s": elapsed}


def load_generator(port: int, phase: Phase, samples: list[Sample], cpu: int | None, out: Any) -> None:
    """The load generator's process: pinned to `cpu` (None: not pinned), one phase, its figures to `out`."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    out.put(asyncio.run(_run_phase(port, phase, samples)))


# ----------------------------------------------------------------------------- the gateway process
def _cpu_by_part(gateway_pid: int) -> dict[str, float]:
    """CPU seconds so far of the gateway's processes, each server by name, and the whole machine."""
    return {"gateway": tree_cpu_s(gateway_pid), **servers_cpu_s(), "machine": machine_busy_s()}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def gateway_process(
    server: str, workers: int, plans_path: Path, env: dict[str, str]
) -> Iterator[tuple[int, int]]:
    """A gateway of server model `server` in its own process(es); yields (port, pid) once it answers."""
    import httpx

    port = _free_port()
    flags = {"--port": port, "--usage-plans": plans_path, "--workers": workers, "--server": server}
    command = [
        sys.executable,
        "-m",
        "tooling.local.gateway",
        *(str(x) for flag in flags.items() for x in flag),
    ]
    # Its output is kept (the functions' JSON log lines too): a 502 answer is a function that raised, and
    # the record of it says why.
    errors = tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(command, env=env, stdout=errors, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        started = time.monotonic()
        deadline = started + 180
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                print(f"    up after {time.monotonic() - started:.1f} s", flush=True)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    errors.seek(0)
                    tail = errors.read()[-2000:].decode(errors="replace")
                    raise RuntimeError(
                        f"the {server} gateway did not start (exit {process.poll()}):\n{tail}"
                    ) from None
                time.sleep(0.2)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(15)
        _report_failures(errors)
        errors.close()


def _report_failures(output: Any) -> None:
    """The functions that raised while the gateway ran (each answered 502), counted; the first one's
    exception printed."""
    output.seek(0)
    raised = [line for line in output if b'"function raised"' in line]
    if not raised:
        return
    try:
        first = json.loads(raised[0]).get("exception", "")
    except ValueError:
        first = raised[0].decode(errors="replace")
    print(f"    {len(raised)} function call(s) raised (502); the first:\n{str(first)[-1500:]}", flush=True)


def _phase(port: int, pid: int, phase: Phase, samples: list[Sample], cpu: int | None) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue: Any = context.Queue()
    generator = context.Process(target=load_generator, args=(port, phase, samples, cpu, queue))
    cpu_before, load_before = _cpu_by_part(pid), os.getloadavg()[0]
    generator.start()
    result: dict[str, Any] = queue.get(timeout=phase.duration_s * 10 + 120)
    cpu_after = _cpu_by_part(pid)
    generator.join(30)
    done = len(result["latencies"])
    result["cpu_ms"] = {
        part: (cpu_after[part] - cpu_before[part]) * 1000 / max(1, done) for part in cpu_after
    }
    result["gateway_cpu_ms"] = result["cpu_ms"]["gateway"]
    result["throughput"] = done / result["elapsed_s"]
    result["load"] = (load_before, os.getloadavg()[0])
    return result


def _usage_plans(directory: Path) -> Path:
    import yaml

    plan = {
        "name": "benchmark",
        "description": "raised for the benchmarks only",
        "throttle": {"rate_limit": 50_000, "burst_limit": 50_000},
        "api_keys": [{"name": "benchmark", "local_value": BENCH_KEY}],
        "operations": ["predictFraud", "getMetrics", "getHealthDetails"],
    }
    path = directory / "usage_plans.yaml"
    path.write_text(yaml.safe_dump({"usage_plans": [plan]}))
    return path


# ----------------------------------------------------------------------------- the comparison
@dataclass
class Settings:
    # server model:worker processes, today's first (bench_api.py ran it with 2 workers)
    servers: tuple[str, ...] = ("baseline:2", "forked:4")
    saturation_s: float = 10.0
    rate: float = 500.0
    rate_s: float = 15.0
    connections: int = 64
    generator_cpu: int | None = 1
    transactions_per_day: int = 2000  # the seeded marketplace (main only)


def run(database_url: str, redis_url: str, samples: list[Sample], settings: Settings | None = None) -> dict:
    """Every server model through the same phases; prints each phase's figures, returns them by server."""
    settings = settings or Settings()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    phases = [
        Phase("warm-up", 3.0, 100.0, settings.connections),
        Phase("saturation", settings.saturation_s, None, settings.connections),
        Phase(f"{settings.rate:g}/s", settings.rate_s, settings.rate, settings.connections),
    ]
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        plans = _usage_plans(Path(tmp))
        for server in settings.servers:
            model, _, workers = server.partition(":")
            print(f"  gateway `{model}`, {workers or 1} worker process(es)", flush=True)
            with gateway_process(model, int(workers or 1), plans, env) as (port, pid):
                for phase in phases:
                    figures = _phase(port, pid, phase, samples, settings.generator_cpu)
                    results.setdefault(server, {})[phase.name] = figures
                    if phase.name != "warm-up":
                        print(f"    {phase.name:>10}: {_line(figures)}", flush=True)
                        print(f"    {'':>10}  {_budget(figures['cpu_ms'])}", flush=True)
    _verdict(results, settings)
    return results


def _line(figures: dict[str, Any]) -> str:
    values = figures["latencies"]
    return (
        f"{figures['throughput']:7.1f} answers/s  p50 {percentile(values, 50):7.2f} ms  "
        f"p95 {percentile(values, 95):7.2f} ms  p99 {percentile(values, 99):7.2f} ms  "
        f"gateway CPU {figures['gateway_cpu_ms']:.2f} ms/request  statuses {figures['statuses']}  "
        f"errors {figures['errors']}  load {figures['load'][0]:.1f}->{figures['load'][1]:.1f}"
    )


def _budget(cpu_ms: dict[str, float]) -> str:
    """The machine's CPU per answer, by part, and the answers a second it would allow on every core."""
    machine = cpu_ms["machine"]
    named = sum(value for part, value in cpu_ms.items() if part != "machine")
    shares = ", ".join(f"{part} {value:.2f}" for part, value in cpu_ms.items() if part != "machine")
    ceiling = (os.cpu_count() or 1) * 1000 / machine if machine > 0 else float("inf")
    return (
        f"machine CPU {machine:.2f} ms/answer ({shares}, the rest {max(0.0, machine - named):.2f}: "
        f"load generator, kernel); at that cost {os.cpu_count()} cores answer at most {ceiling:.0f}/s"
    )


def _verdict(results: dict[str, dict[str, dict[str, Any]]], settings: Settings) -> None:
    if len(results) < 2:
        return
    baseline, new = next(iter(results)), list(results)[-1]
    ratio = results[new]["saturation"]["throughput"] / results[baseline]["saturation"]["throughput"]
    p95 = percentile(results[new][f"{settings.rate:g}/s"]["latencies"], 95)
    cores = (
        f"load generator pinned to CPU {settings.generator_cpu}" if settings.generator_cpu is not None else ""
    )
    print(
        f"  comparison ({os.cpu_count()} cores; {cores or 'nothing pinned'}; gateways, PostgreSQL, Redis on both)"
    )
    print(
        f"    saturation throughput `{new}` / `{baseline}`: {ratio:.2f}x vs target >= {TARGET_RATIO:g}x: "
        f"{'MET' if ratio >= TARGET_RATIO else 'NOT MET'}"
    )
    print(
        f"    `{new}` p95 at {settings.rate:g}/s offered: {p95:.2f} ms vs target <= {TARGET_P95_MS:g} ms: "
        f"{'MET' if p95 <= TARGET_P95_MS else 'NOT MET'}"
    )


def _arguments(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--servers", default="baseline:2,forked:4", help="server model:worker processes, today's first"
    )
    parser.add_argument("--saturation-s", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=500.0, help="fixed offered load, requests/s")
    parser.add_argument("--rate-s", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--generator-cpu", type=int, default=1, help="-1: do not pin the load generator")
    parser.add_argument("--transactions-per-day", type=int, default=2000)
    args = parser.parse_args(argv)
    settings = Settings(
        tuple(args.servers.split(",")),
        args.saturation_s,
        args.rate,
        args.rate_s,
        args.connections,
        None if args.generator_cpu < 0 else args.generator_cpu,
        args.transactions_per_day,
    )
    return settings


def main(argv: list[str] | None = None) -> int:
    settings = _arguments(argv)
    from benchmarks.bench_setup import benchmark_environment, seed
    from shared.db import apply_migrations
    from tooling.local.services import LocalServices

    benchmark_environment()  # the same raised limits and settings as bench_api.py
    import psycopg

    print(
        "bench-gateway: starting embedded PostgreSQL and Redis, seeding a simulated marketplace ...",
        flush=True,
    )
    with LocalServices.from_env() as services:
        assert services.database_url and services.redis_url
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            apply_migrations(conn)
        samples = seed(services.database_url, services.redis_url, settings.transactions_per_day)
        print(f"  seeded: {len(samples)} request templates; load average {os.getloadavg()}", flush=True)
        run(services.database_url, services.redis_url, samples, settings)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())

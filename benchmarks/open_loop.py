"""The HTTP load generator of `make bench-api` (benchmarks/bench_api.py): an open-loop schedule of
POSTs on 64 keep-alive connections, latency counted from each request's scheduled time."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import h11

CONNECTIONS = 64
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter, h11.Connection]


class OpenLoopRun:
    """One run against the gateway on 127.0.0.1:port: its connections, latencies, statuses, errors."""

    def __init__(self, port: int, samples: list[tuple[str, int, float]], target: str, api_key: str) -> None:
        self.port = port
        self.samples = samples
        self.target = target
        self.api_key = api_key
        self.connections: asyncio.Queue[Connection] = asyncio.Queue()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.run_id = uuid.uuid4().hex[:8]

    async def open_connection(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        await self.connections.put((reader, writer, h11.Connection(h11.CLIENT)))

    def request_bytes(self, conn: h11.Connection, i: int) -> bytes:
        """Request i's POST (the samples in turn, a transaction id unique to this run)."""
        wallet, ticket, price = self.samples[i % len(self.samples)]
        body = json.dumps(
            {
                "transaction_id": f"h-{self.run_id}-{i}",
                "wallet_address": wallet,
                "ticket_id": ticket,
                "price_paid": price,
            }
        ).encode()
        data = conn.send(
            h11.Request(
                method="POST",
                target=self.target,
                headers=[
                    ("host", f"127.0.0.1:{self.port}"),
                    ("content-type", "application/json"),
                    ("x-api-key", self.api_key),
                    ("content-length", str(len(body))),
                ],
            )
        )
        return data + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())

    @staticmethod
    async def response_status(reader: asyncio.StreamReader, conn: h11.Connection) -> int:
        """Reads one whole response; its status code."""
        status = 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
            if isinstance(event, h11.EndOfMessage):
                return status

    async def send(self, i: int, due: float) -> None:
        """Request i on a free connection; on a transport error, counted and the connection replaced."""
        reader, writer, conn = await self.connections.get()
        try:
            writer.write(self.request_bytes(conn, i))
            status = await self.response_status(reader, conn)
            self.latencies.append((time.perf_counter() - due) * 1000)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            conn.start_next_cycle()
            await self.connections.put((reader, writer, conn))
        except Exception:
            self.errors += 1
            writer.close()
            await self.open_connection()

    async def schedule(self, rate: float, total: int) -> float:
        """Sends request i at start + i/rate without waiting for earlier answers; the seconds taken."""
        tasks = []
        start = time.perf_counter() + 0.2
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.send(i, due)))
        await asyncio.gather(*tasks)
        return time.perf_counter() - start


async def open_loop(
    port: int,
    rate: float,
    duration_s: float,
    samples: list[tuple[str, int, float]],
    target: str,
    api_key: str,
) -> dict[str, Any]:
    """Open-loop: request i is due at t0 + i/rate, sent on a free keep-alive connection."""
    run = OpenLoopRun(port, samples, target, api_key)
    for _ in range(CONNECTIONS):
        await run.open_connection()
    total = int(rate * duration_s)
    elapsed = await run.schedule(rate, total)
    return {
        "latencies": run.latencies,
        "statuses": run.statuses,
        "errors": run.errors,
        "elapsed_s": elapsed,
        "sent": total,
    }

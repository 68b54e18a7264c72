"""The matrix's cells replayed by worker processes, one cell at a time each, on the one stack.

Why processes: a cell is one Python process (the handlers, in simulated time) talking to one PostgreSQL
backend, each waiting on the other most of the time, so one cell keeps about one core busy; on the
2-core machine two cells at once finish the matrix in about 0.6 of the time (the measured figure is in
the report's `run`). The handlers keep module state (settings, pools, the simulated clocks patched into
their modules), so a second cell needs a process of its own, not a thread.

What the workers share and what they do not: the PostgreSQL server and the migrated template (each cell
has its own database already); the Redis server, each worker on a Redis database of its own
(`redis_database`), so that one cell's feature cache and snapshot generation never meet another's.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shared.errors import ConfigurationError

# A replay's progress line, a finished cell, or a cell that failed: what a worker sends back.
SAY, DONE, FAILED = "say", "done", "failed"


def redis_database(url: str, number: int) -> str:
    """`url` naming Redis database `number` (redis://host:port/N, or unix://path?db=N)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query)) | {"db": str(number)}
        # urlunsplit would drop the empty host's "//" (unix:/path), which redis-py refuses
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{number}"))


@dataclass(frozen=True)
class StackAddress:
    """Where the parent's stack is: what a worker needs to make cell databases of its own."""

    server_url: str
    redis_url: str
    template: str


def _work(address: StackAddress, worker: int, tasks: Any, answers: Any) -> None:
    """A worker's loop: (n, cell) from `tasks` until None; each cell replayed into a fresh database."""
    from tooling.livepath.replay import replay
    from tooling.livepath.stack import ENVIRONMENT, Stack

    os.environ.update(ENVIRONMENT)
    made = Stack(address.server_url, redis_database(address.redis_url, worker + 1), template=address.template)
    while (task := tasks.get()) is not None:
        n, cell = task

        def progress(line: str, n: int = n) -> None:
            answers.put((SAY, n, line))

        try:
            with made.cell_database() as url:
                result = replay(cell, url, progress=progress).as_dict()
            answers.put((DONE, n, result))
        except Exception as exc:  # reported to the parent, which stops the matrix with it
            answers.put((FAILED, n, f"{cell.name}: {type(exc).__name__}: {exc}"))


def replay_in_workers(
    address: StackAddress, cells: Sequence[Any], workers: int, say: Callable[[str], None]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index in `cells`, the cell's result) as the cells finish, `workers` at a time; the largest
    worlds first, so that the last cell to start is a short one."""
    context = multiprocessing.get_context("spawn")
    tasks, answers = context.Queue(), context.Queue()
    for n in sorted(range(len(cells)), key=lambda i: -cells[i].days * cells[i].per_day):
        tasks.put((n, cells[n]))
    count = max(1, min(workers, len(cells)))
    for _ in range(count):
        tasks.put(None)
    processes = [
        context.Process(target=_work, args=(address, w, tasks, answers), daemon=True) for w in range(count)
    ]
    for process in processes:
        process.start()
    try:
        remaining = len(cells)
        while remaining:
            kind, n, payload = answers.get()
            if kind == SAY:
                say(payload)
                continue
            if kind == FAILED:
                raise ConfigurationError(f"a live-path cell failed: {payload}")
            remaining -= 1
            yield n, payload
    finally:
        for process in processes:
            if process.is_alive() and remaining:
                process.terminate()
            process.join()

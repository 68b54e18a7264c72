"""The live-path matrix (`make bench-detection`): ages x volumes on seeds the served model was not
trained on, and more seeds at one age and volume; one stack, a fresh database per cell, in sequence
(on two shared cores a second cell in parallel only competes with the first for PostgreSQL).

Each cell scores the purchases of its last days: 7 (replay.SCORE_DAYS), or fewer at a volume where 7
days hold more than SCORED_PURCHASES (3,000 a day: the last 51 hours). A sample of the same size as the
training world's week (900 x 7) gives the same interval widths at every volume; scoring 21,000 purchases,
and running the hourly jobs over 7 days of a 270,000-order history, would add most of the matrix's time
for narrower intervals only. Every purchase of the window is still scored by the handler at its own time,
with the jobs at their schedules from the daily run before it; `--scored-purchases 0` scores 7 days.

ticketguard evaluate matrix [--out DIR] [--ages 7 35 90] [--volumes 200 900 3000] [--seeds 101 102 103]
                            [--scored-purchases 6300] [--resume]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.errors import ConfigurationError
from tooling.livepath.stack import ENVIRONMENT

AGES = (7.0, 35.0, 90.0)
VOLUMES = (200, 900, 3000)
SEEDS = (101, 102, 103)  # the first is the matrix's; all three at SEED_AGE x SEED_VOLUME
SEED_AGE, SEED_VOLUME = 35.0, 900
REPORTS = Path("reports") / "live-path"
WORKERS = 2  # cells at once (tooling.livepath.workers): one per core of the 2-core reference machine
SCORED_PURCHASES = 6_300  # the training world's week (900 a day x 7): the most a cell scores, about


def score_days(per_day: int, scored_purchases: int = SCORED_PURCHASES) -> float:
    """The measured window of a cell: 7 days, or the whole hours holding about `scored_purchases`
    (0: always 7 days)."""
    from tooling.livepath.replay import SCORE_DAYS

    if scored_purchases <= 0 or per_day * SCORE_DAYS <= scored_purchases:
        return SCORE_DAYS
    return math.ceil(24 * scored_purchases / per_day) / 24


def cells(
    ages: tuple[float, ...],
    volumes: tuple[int, ...],
    seeds: tuple[int, ...],
    scored_purchases: int = SCORED_PURCHASES,
) -> list[Any]:
    from tooling.livepath.replay import Cell

    def cell(seed: int, age: float, volume: int) -> Any:
        return Cell(seed=seed, days=age, per_day=volume, score_days=score_days(volume, scored_purchases))

    grid = [cell(seeds[0], age, volume) for age in ages for volume in volumes]
    extra = [cell(seed, SEED_AGE, SEED_VOLUME) for seed in seeds[1:]]
    # Cheapest first (volume, then age): a run cut short has the most cells.
    return sorted(grid + extra, key=lambda c: (c.per_day, c.days, c.seed))


def served_report(model_dir: Path | None = None) -> tuple[str, dict[str, Any]]:
    """(version, report.json) of the model the handlers will serve."""
    from shared.model import resolve_model_dir

    directory = model_dir or resolve_model_dir()
    report = directory / "report.json"
    if not report.exists():
        raise ConfigurationError(f"{directory} has no report.json: the live path is judged beside it")
    data: dict[str, Any] = json.loads(report.read_text())
    return str(data.get("version") or directory.name), data


def training_seeds(report: dict[str, Any]) -> set[int]:
    """The simulator seeds the model's training data came from (its report's training source: a
    record with `seed`, or the summary line that names it)."""
    source = report.get("training_source")
    if isinstance(source, dict) and isinstance(source.get("seed"), int):
        return {int(source["seed"])}
    return {int(seed) for seed in re.findall(r"\bseed (\d+)", json.dumps(source))}


def run_matrix(
    planned: list[Any],
    *,
    model_dir: Path | None = None,
    say: Callable[[str], None] = print,
    after_cell: Callable[[dict[str, Any]], object] | None = None,
    done: list[dict[str, Any]] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Every cell replayed (`workers` at a time); the matrix as the report's JSON."""
    from tooling.livepath.report import cell_lines
    from tooling.livepath.stack import stack

    version, report = served_report(model_dir)
    used = training_seeds(report)
    clash = sorted({cell.seed for cell in planned} & used)
    if clash:
        raise ConfigurationError(f"seed(s) {clash} trained model {version}: evaluate it on others")
    began = time.perf_counter()
    load_before = os.getloadavg()
    kept = {_key(r["cell"]): r for r in done or [] if r.get("model_version") == version}
    with stack() as made:
        results: list[dict[str, Any] | None] = [None] * len(planned)
        todo: list[int] = []
        for n, cell in enumerate(planned):
            if (earlier := kept.get(_key(asdict(cell)))) is not None:
                say(f"[{n + 1}/{len(planned)}] {cell.name}: kept from the earlier run (--resume)")
                results[n] = earlier
            else:
                todo.append(n)
        for n, result in _replayed(made, [planned[n] for n in todo], workers, say):
            results[todo[n]] = result
            say(f"[{todo[n] + 1}/{len(planned)}] {planned[todo[n]].name}:")
            for line in cell_lines(result):
                say(line)
            say(f"  ({result['seconds']['total']:.0f} s; matrix so far {time.perf_counter() - began:.0f} s)")
            if after_cell is not None:
                finished = [r for r in results if r is not None]
                after_cell(
                    _matrix(version, report, used, finished, began, load_before, len(planned), workers)
                )
    finished = [r for r in results if r is not None]
    return _matrix(version, report, used, finished, began, load_before, len(planned), workers)


def _replayed(
    made: Any, todo: list[Any], workers: int, say: Callable[[str], None]
) -> Iterator[tuple[int, Any]]:
    """(index in `todo`, result) of every cell: in this process one after another, or in `workers`
    processes (tooling.livepath.workers)."""
    from tooling.livepath.replay import replay
    from tooling.livepath.workers import StackAddress, replay_in_workers

    if workers <= 1 or len(todo) <= 1:
        for n, cell in enumerate(todo):
            say(f"{cell.name} ...")
            with made.cell_database() as url:
                yield n, replay(cell, url, progress=say).as_dict()
        return
    say(f"{len(todo)} cells, {workers} at a time (the largest worlds first)")
    yield from replay_in_workers(
        StackAddress(made.server_url, made.redis_url, made.template), todo, workers, say
    )


def _key(cell: dict[str, Any]) -> tuple[Any, ...]:
    return (
        cell["seed"],
        float(cell["days"]),
        cell["per_day"],
        float(cell["score_days"]),
        float(cell["post_every_s"]),
        bool(cell.get("trim_history", False)),
    )


def _matrix(
    version: str,
    report: dict[str, Any],
    used: set[int],
    results: list[dict[str, Any]],
    began: float,
    load_before: tuple[float, float, float],
    planned: int,
    workers: int,
) -> dict[str, Any]:
    return {
        "model_version": version,
        "offline": {
            "training_source": report.get("training_source"),
            "training_seeds": sorted(used),
            "bands": (report.get("operating_point") or {}).get("bands"),
            "per_scenario": (report.get("operating_point") or {}).get("per_scenario"),
        },
        "cells": results,
        "run": {
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - began, 1),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
            "workers": workers,
            "cells_planned": planned,
            "cells_done": len(results),
            "cell_seconds_sum": round(sum(r["seconds"]["total"] for r in results), 1),
        },
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketguard evaluate matrix", description=__doc__)
    parser.add_argument("--ages", type=float, nargs="+", default=list(AGES), help="days of marketplace")
    parser.add_argument("--volumes", type=int, nargs="+", default=list(VOLUMES), help="purchases a day")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="the simulator's seeds")
    parser.add_argument("--model-dir", type=Path, help="the model to serve (default: the registry's CURRENT)")
    parser.add_argument("--out", type=Path, help=f"report directory (default {REPORTS}/<version>)")
    parser.add_argument(
        "--scored-purchases",
        type=int,
        default=SCORED_PURCHASES,
        help=f"score the last 7 days, or the last hours holding about this many purchases when 7 days hold "
        f"more (default {SCORED_PURCHASES}; 0: 7 days)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        help=f"cells replayed at once, each in a process of its own (default {WORKERS}: one per core here)",
    )
    parser.add_argument(
        "--whole-history",
        action="store_true",
        help="post each world's history before its measured days fact by fact, not summarised",
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep the cells the report directory already has (same model)"
    )
    return parser


def matrix_cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    os.environ.update(ENVIRONMENT)
    if args.model_dir:
        os.environ["TG_MODEL_DIR"] = str(args.model_dir.resolve())
    from tooling.livepath.report import write_report

    planned = cells(tuple(args.ages), tuple(args.volumes), tuple(args.seeds), args.scored_purchases)
    if args.whole_history:
        planned = [replace(cell, trim_history=False) for cell in planned]
    version, _ = served_report(args.model_dir)
    out = args.out or REPORTS / version
    earlier = out / "report.json"
    done = json.loads(earlier.read_text())["cells"] if args.resume and earlier.exists() else None
    matrix = run_matrix(
        planned,
        done=done,
        workers=args.workers,
        model_dir=args.model_dir,
        say=lambda line: print(line, flush=True),
        after_cell=lambda partial: write_report(partial, out),  # a run cut short keeps its cells
    )
    for line in write_report(matrix, out):
        print(line, flush=True)
    return 0

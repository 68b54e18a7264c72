"""`ticketguard evaluate`: the model judged on the live path.

usage: ticketguard evaluate {live,matrix} [options]   (each subcommand's --help lists its options)

ticketguard evaluate live --seed 101 --days 35 --per-day 900 [--out DIR]   # one world
ticketguard evaluate matrix [--out DIR] [--quick]                          # `make bench-detection`
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from tooling.livepath.stack import ENVIRONMENT


def _say(message: str) -> None:
    print(message, flush=True)


def _live_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=101, help="the simulator's seed (default 101)")
    parser.add_argument("--days", type=float, default=35, help="days of marketplace (default 35)")
    parser.add_argument("--per-day", type=int, default=900, help="purchases a day (default 900)")
    parser.add_argument("--score-days", type=float, default=7, help="the measured window: the last N days")
    parser.add_argument(
        "--post-every", type=float, default=300, help="the backend posts each fact within N s (default 300)"
    )
    parser.add_argument(
        "--followed-by",
        type=float,
        default=0.0,
        help="days the world goes on after the measured window, never replayed (a training set's test "
        "week has 30 days of label settling after it)",
    )
    parser.add_argument(
        "--end",
        type=datetime.fromisoformat,
        help="the measured window's end (ISO 8601 with a zone; default 2026-06-01)",
    )
    parser.add_argument("--model-dir", type=Path, help="the model to serve (default: the registry's CURRENT)")
    parser.add_argument("--out", type=Path, help="write result.json (and the decisions) here")
    parser.add_argument(
        "--features-csv", type=Path, help="write each scored purchase's served features, score and truth here"
    )


def live_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketguard evaluate live", description=__doc__)
    _live_parser(parser)
    args = parser.parse_args(argv)
    os.environ.update(ENVIRONMENT)
    if args.model_dir:
        os.environ["TG_MODEL_DIR"] = str(args.model_dir.resolve())
    from tooling.livepath.replay import Cell, replay
    from tooling.livepath.report import cell_lines
    from tooling.livepath.stack import stack

    cell = Cell(seed=args.seed, days=args.days, per_day=args.per_day, score_days=args.score_days,
                post_every_s=args.post_every, followed_by_days=args.followed_by)  # fmt: skip
    if args.end is not None:
        cell = replace(cell, end=args.end)
    began = time.perf_counter()
    with stack() as made, made.cell_database() as url:
        result = replay(cell, url, progress=_say)
        if args.features_csv:
            from tooling.livepath.parity import write_served_features

            write_served_features(url, args.features_csv)
    for line in cell_lines(result.as_dict()):
        _say(line)
    _say(f"({time.perf_counter() - began:.0f} s)")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "result.json").write_text(json.dumps(result.as_dict(), indent=1, default=str))
    return 0


def cli(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        _say(__doc__ or "")
        return 0
    name, rest = argv[0], argv[1:]
    if name == "live":
        return live_cli(rest)
    if name == "matrix":
        from tooling.livepath.matrix import matrix_cli

        return matrix_cli(rest)
    print(f"ticketguard evaluate: unknown subcommand {name!r} (live, matrix); see --help", file=sys.stderr)
    return 2

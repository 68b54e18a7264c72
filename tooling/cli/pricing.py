"""`ticketguard pricing settle|train|kill|resume|simulate`: the pricing experiment's operations.

ticketguard pricing settle [--as-of T]        settle the rewards of the events whose sales are over
ticketguard pricing train [--min-events N]    fit arm D's demand model per category (settled events)
ticketguard pricing kill --reason TEXT        every quote falls back to arm A's fixed price
ticketguard pricing resume                    lift the kill switch
ticketguard pricing simulate --events N --seed S --out DIR [--replications R]
                                              epsilon-greedy vs Thompson sampling, UCB1 and an equal
                                              split on a simulated market; JSON report and PNG plots
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from tooling.cli_args import aware_instant


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticketguard pricing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    settle = commands.add_parser("settle", help="settle the rewards of the events whose sales are over")
    settle.add_argument(
        "--as-of", type=aware_instant, help="the run's 'now' (ISO time with zone; default: now)"
    )
    train = commands.add_parser("train", help="fit arm D's demand model per event category")
    train.add_argument("--min-events", type=int, default=8, help="the fewest settled events a category needs")
    kill = commands.add_parser("kill", help="set the kill switch: every quote is arm A's fixed price")
    kill.add_argument("--reason", required=True, help="why (shown in the experiment's state)")
    commands.add_parser("resume", help="lift the kill switch")
    simulate = commands.add_parser("simulate", help="compare routing policies on a simulated market")
    simulate.add_argument("--events", type=int, default=200, help="events per simulated experiment")
    simulate.add_argument("--seed", type=int, default=28)
    simulate.add_argument("--out", type=Path, required=True, help="directory for report.json and the plots")
    simulate.add_argument("--replications", type=int, default=40, help="experiments per policy")
    return parser


def cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "simulate":
        from tooling.pricing.simulate import run_simulation

        report = run_simulation(args.events, args.seed, args.out, replications=args.replications)
        print(json.dumps(report["summary"], indent=2))
        return 0
    from shared.db import connect

    if args.command == "settle":
        from shared.pricing.jobs import settle_job

        print(json.dumps(settle_job(args.as_of), indent=2))
        return 0
    with connect(autocommit=True) as conn:
        if args.command == "train":
            from training.pricing import train

            fits = train(conn, args.min_events)
            print(
                json.dumps(
                    {c: asdict(f) for c, f in fits.items()} or "no category has enough events", indent=2
                )
            )
            return 0
        from shared.pricing.service import set_kill_switch

        set_kill_switch(conn, args.command == "kill", getattr(args, "reason", None))
        print(f"pricing kill switch {'set' if args.command == 'kill' else 'lifted'}")
    return 0

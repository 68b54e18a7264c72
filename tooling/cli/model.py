"""`ticketguard model ...`: the served model and its candidate, one command each (issue 17).

    ticketguard model status                       served version, candidate, mode, weight, history
    ticketguard model shadow VERSION               VERSION scores beside the served model, deciding nothing
    ticketguard model canary VERSION [--weight W]  VERSION decides the share W of purchases (default 0.1)
    ticketguard model promote [VERSION]            VERSION (default: the candidate) becomes the served version
    ticketguard model rollback [--to VERSION]      end the candidate's trial; with no candidate, serve the
                                                   previous version (or VERSION)
    ticketguard model retrain [--reason R]         the local retraining pipeline (tooling.local.retrain)

The registry: --registry DIR|s3://BUCKET/models/, else TG_MODEL_REGISTRY (AWS), else the local one
(TG_MODEL_DIR when it holds CURRENT, else model_artifacts/). The same functions (shared.model.rollout)
run the watchdog's automatic rollback; the admin surface (MFA, later) will call them too. There is no
HTTP route for them.
"""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from shared.model import rollout


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticketguard model", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--registry", help="registry directory or s3://BUCKET/models/ (see above)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="the served version and the candidate")
    shadow = commands.add_parser("shadow", help="run VERSION in shadow")
    shadow.add_argument("version")
    canary = commands.add_parser("canary", help="run VERSION as a canary")
    canary.add_argument("version")
    canary.add_argument("--weight", type=float, default=rollout.DEFAULT_CANARY_WEIGHT)
    promote = commands.add_parser("promote", help="serve VERSION (default: the candidate)")
    promote.add_argument("version", nargs="?")
    back = commands.add_parser("rollback", help="end the candidate's trial, or serve the previous version")
    back.add_argument("--to", metavar="VERSION")
    retrain = commands.add_parser("retrain", help="run the local retraining pipeline once")
    retrain.add_argument("--reason", default="manual", choices=("drift", "detection_drop", "manual"))
    retrain.add_argument("--training-set", help="train on this CSV instead of exporting the database's")
    retrain.add_argument("--force", action="store_true", help="run the candidate even if the gate refuses")
    for sub in (shadow, canary, promote, back):
        sub.add_argument("--reason", default="by hand", help="recorded in the history")
    return parser


def _show(store: rollout.Store, state: rollout.Rollout) -> dict[str, Any]:
    return {
        "registry": store.describe(),
        "served": store.current(),
        "candidate": state.candidate,
        "mode": state.mode,
        "weight": state.weight,
        "since": state.since,
        "history": list(state.history[-5:]),
    }


def cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "retrain":
        from tooling.local.retrain import run_local_retrain

        result = run_local_retrain(
            args.reason, registry=args.registry, training_set=args.training_set, force=args.force
        )
        print(json.dumps(result, indent=2, default=str))
        return 0 if result["status"] != "failed" else 1
    store = rollout.open_store(args.registry)
    by = f"cli:{getpass.getuser()}"
    if args.command == "status":
        state = store.rollout()
    elif args.command == "shadow":
        state = rollout.start_candidate(store, args.version, "shadow", by=by, reason=args.reason)
    elif args.command == "canary":
        state = rollout.start_candidate(
            store, args.version, "canary", weight=args.weight, by=by, reason=args.reason
        )
    elif args.command == "promote":
        state = rollout.promote(store, args.version, by=by, reason=args.reason)
    else:
        state = rollout.rollback(store, args.to, by=by, reason=args.reason)
    print(json.dumps(_show(store, state), indent=2))
    return 0

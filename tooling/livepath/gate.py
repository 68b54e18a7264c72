"""The training gate's live-path check (issue 23, item 4): a candidate model served on the live path
(simulated marketplaces replayed through the ingest consumer, the scheduled jobs and the scoring handler)
must meet its own report there. Two worlds:

- **its own test week** (`reproduction_cell`, from the manifest's training world: the same seed, volume
  and days, the week scored live, the 30 days of label settling after it simulated and never replayed).
  Refused when the live false-positive rate at REQUIRE_2FA or stricter falls outside the 95% interval the
  report gives for that week (against the simulator's truth, operating_point.truth_bands, as the live path
  counts; a report without it: the labels' operating_point.bands), on either side: an offline figure the
  live path does not reproduce on the very purchases it was measured on is a bug to find, not a number
  to ship.
- **a world it never saw** (`GATE_CELL`, seed 104). Refused when the live FPR there is above
  UNSEEN_FPR_LIMIT, issue 23's limit for a marketplace of 35 days or more. Not held to the report's
  interval: that interval is the binomial spread of one world's week, and worlds differ more than that
  (docs/live-path.md: the shipped model's week on seeds 0 and 101-104 at the same age, 1.10-1.75%).
  A candidate trained on another source (`--data ... --live-gate`) has no world to reproduce, and its
  unseen world is held to the report's interval as before.

In both, a feature served that disagrees with the training rows for the same purchases (a
training/serving skew, tooling.livepath.parity) or an error answered refuses the candidate.

`ticketguard train` runs it after the candidate is compiled and registered, before CURRENT moves: by
default for the simulator source, `--no-live-gate` opts out (training.cli.live_gate_wanted); `judge` and
`judge_unseen` are the decisions alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shared.kpis.rates import percent
from tooling.livepath.replay import Cell

# Seven weeks at the training world's volume, the last one scored: the age of the default training world's
# test week (a 7-day warm-up and 6 weeks, training.sources), about 6,000 purchases; a seed no training uses
# (tooling.livepath.matrix).
GATE_CELL = Cell(seed=104, days=49.0, per_day=900, score_days=7.0)
# Issue 23: at most 2.0% of honest purchases asked for more (REQUIRE_2FA or stricter) at 35 days and more.
UNSEEN_FPR_LIMIT = 0.02
TEST_DAYS = 7.0  # the test split: the training window's last week (training.splits)
VERDICT_FILE = "live_path_gate.json"


def judge(report: dict[str, Any], outcome: dict[str, Any], parity: dict[str, Any]) -> dict[str, Any]:
    """The verdict on a replay's outcome and parity against the candidate's own report."""
    reasons: list[str] = []
    offline = offline_fpr(report)
    live = outcome["bands"]["two_factor"]["false_positive"]
    if not offline or len(offline.get("ci95") or []) != 2:
        reasons.append("the candidate's report gives no FPR interval at REQUIRE_2FA to hold the live path to")
    elif live.get("rate") is None:
        reasons.append("the live path scored no legitimate purchase")
    else:
        low, high = offline["ci95"]
        if not low <= live["rate"] <= high:
            side = "above" if live["rate"] > high else "below"
            reasons.append(
                f"live-path FPR at REQUIRE_2FA {percent(live, 2)} is {side} the report's interval "
                f"[{low * 100:.2f}%, {high * 100:.2f}%] (test split {percent(offline, 2)})"
            )
    return _verdict(reasons, outcome, parity, offline_fpr_two_factor=offline)


def judge_unseen(outcome: dict[str, Any], parity: dict[str, Any]) -> dict[str, Any]:
    """The verdict on a world the candidate never saw: its live FPR at most UNSEEN_FPR_LIMIT."""
    reasons: list[str] = []
    live = outcome["bands"]["two_factor"]["false_positive"]
    if live.get("rate") is None:
        reasons.append("the live path scored no legitimate purchase")
    elif live["rate"] > UNSEEN_FPR_LIMIT:
        reasons.append(
            f"live-path FPR at REQUIRE_2FA {percent(live, 2)} on a world it never saw is above "
            f"{UNSEEN_FPR_LIMIT:.1%}"
        )
    return _verdict(reasons, outcome, parity, limit=UNSEEN_FPR_LIMIT)


def _verdict(
    reasons: list[str], outcome: dict[str, Any], parity: dict[str, Any], **held_to: Any
) -> dict[str, Any]:
    """A judgement's verdict: its own reasons and the serving ones (skew, errors), the live FPR, and what
    the FPR was held to."""
    reasons = reasons + _served_as_trained(outcome, parity)
    return {
        "passed": not reasons,
        "reasons": reasons,
        "live_fpr_two_factor": outcome["bands"]["two_factor"]["false_positive"],
        **held_to,
        "skewed": list(parity.get("skewed") or []),
    }


def _served_as_trained(outcome: dict[str, Any], parity: dict[str, Any]) -> list[str]:
    reasons = []
    if parity.get("skewed"):
        shares = ", ".join(
            f"{name} {parity['features'][name]['share'] * 100:.1f}%" for name in parity["skewed"]
        )
        reasons.append(f"training/serving skew: served features disagree with the training rows ({shares})")
    if outcome.get("errors"):
        reasons.append(f"the scoring handler answered errors on the live path: {outcome['errors']}")
    return reasons


def reproduction_cell(manifest: dict[str, Any]) -> Cell | None:
    """The candidate's own test week as a live-path cell: the manifest's simulated training world (seed,
    volume, days), its window's last TEST_DAYS scored, the rest of the world (label settling) simulated
    after it. None for a model not trained on the simulator."""
    world = manifest.get("simulation") or {}
    try:
        window_start = datetime.fromisoformat(world["window"]["start"])
        window_end = datetime.fromisoformat(world["window"]["end"])
        world_start = window_start - timedelta(days=float(world["warm_up_days"]))
        days = (window_end - world_start) / timedelta(days=1)
        return Cell(
            seed=int(world["seed"]),
            days=days,
            per_day=int(world["orders_per_day"]),
            score_days=TEST_DAYS,
            end=window_end,
            followed_by_days=float(world["simulated_days"]) - days,
        )
    except (KeyError, TypeError, ValueError):
        return None


def offline_fpr(report: dict[str, Any]) -> dict[str, Any] | None:
    """The report's FPR at REQUIRE_2FA or stricter on its test split: against the simulator's truth when
    the report has it (the live path's own yardstick), else against the labels."""
    operating = report.get("operating_point") or {}
    for bands in (operating.get("truth_bands"), operating.get("bands")):
        point = ((bands or {}).get("two_factor") or {}).get("false_positive")
        if point:
            return dict(point)
    return None


@contextmanager
def _serving(model_dir: Path) -> Iterator[None]:
    previous = os.environ.get("TG_MODEL_DIR")
    os.environ["TG_MODEL_DIR"] = str(model_dir.resolve())
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TG_MODEL_DIR", None)
        else:
            os.environ["TG_MODEL_DIR"] = previous


def live_path_gate(model_dir: Path, cell: Cell = GATE_CELL) -> dict[str, Any]:
    """Serve the model in `model_dir` on its own test week and on the unseen world of `cell`, judge both;
    the verdict is also written beside the model (VERDICT_FILE)."""
    from tooling.livepath.matrix import training_seeds
    from tooling.livepath.replay import replay
    from tooling.livepath.stack import stack

    report: dict[str, Any] = json.loads((model_dir / "report.json").read_text())
    manifest: dict[str, Any] = json.loads((model_dir / "manifest.json").read_text())
    if cell.seed in training_seeds(report):
        raise ValueError(f"seed {cell.seed} trained this model: the live-path gate needs another")
    own_week = reproduction_cell(manifest)
    with _serving(model_dir), stack() as made:
        with made.cell_database() as url:
            unseen = replay(cell, url)
        reproduced = None
        if own_week is not None:
            with made.cell_database() as url:
                reproduced = replay(own_week, url)
    # Held to the report's interval: its own test week, or with nothing to reproduce the unseen world.
    held = reproduced or unseen
    verdict = judge(report, held.outcome, held.parity) | {
        "cell": held.as_dict()["cell"],
        "outcome": held.outcome,
    }
    if reproduced is not None:
        on_unseen = judge_unseen(unseen.outcome, unseen.parity)
        verdict["unseen"] = on_unseen | {"cell": unseen.as_dict()["cell"], "outcome": unseen.outcome}
        verdict["reasons"] += on_unseen["reasons"]
        verdict["passed"] = verdict["passed"] and on_unseen["passed"]
    verdict["model_version"] = unseen.model_version
    (model_dir / VERDICT_FILE).write_text(json.dumps(verdict, indent=1, default=str) + "\n")
    return verdict

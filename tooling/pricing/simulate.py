"""`ticketguard pricing simulate`: the routing policies on one simulated market, replicated.

Each replication draws `events` events (tooling.pricing.market) and runs every policy on the same
events and buyers (common random numbers: the policies differ by their choices only). An event is
assigned when it is listed and its reward settles when its sale ends (7-28 days later): a policy
sees only the rewards settled by then. Arm D's demand model (training.pricing.fit) is refitted from
the settled events as they come, as `ticketguard pricing train` would be run.

Regret: against the best single arm in hindsight of the replication (each event's counterfactual
reward under every arm is known here, D's with the model of its time).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np

from shared.pricing.arms import ARMS, Arm
from shared.pricing.policy import ArmStats
from tooling.pricing.market import Outcome, Run, SimEvent, fixed_price_outcome, make_events, outcomes
from tooling.pricing.policies import Policy, policies
from tooling.pricing.report import build_report
from training.pricing import Observation, fit

REFIT_EVERY = 10  # settled events between refits of arm D's model


class _Ledger:
    """What a policy has seen: the settled events' rewards (and the data arm D trains on)."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, SimEvent, Arm, Outcome]] = []
        self.stats: dict[Arm, ArmStats] = {arm: ArmStats() for arm in ARMS}
        self.observations: list[Observation] = []
        self.multipliers: dict[str, float] = {}
        self._since_fit = 0

    def settle_until(self, day: float, delayed: bool) -> None:
        keep = []
        for item in self.pending:
            settles, event, arm, outcome = item
            if delayed and settles > day:
                keep.append(item)
                continue
            s, reward = self.stats[arm], outcome.reward(event)
            self.stats[arm] = ArmStats(s.n + 1, s.total + reward, s.squares + reward * reward)
            if outcome.sold:
                price = outcome.revenue / outcome.sold / event.face
                self.observations.append(Observation(event.category, price, outcome.sold / event.capacity))
            self._since_fit += 1
        self.pending = keep
        if self._since_fit >= REFIT_EVERY:
            self.multipliers = {c: f.multiplier for c, f in fit(self.observations).items()}
            self._since_fit = 0


def run_policy(policy: Policy, events: list[SimEvent], fixed: list[dict[Arm, Outcome]], delayed: bool) -> Run:
    run, ledger = Run(policy.name), _Ledger()
    for event, known in zip(events, fixed, strict=True):
        ledger.settle_until(event.listed_day, delayed)
        d = fixed_price_outcome(event, ledger.multipliers.get(event.category, 1.0))
        every = {**known, "D": d}
        arm = policy.pick(ledger.stats, event.index)
        outcome = every[arm]
        ledger.pending.append((event.settles_day, event, arm, outcome))
        run.arms.append(arm)
        run.rewards.append(outcome.reward(event))
        run.counterfactual.append({a: o.reward(event) for a, o in every.items()})
        run.revenue += outcome.revenue
        run.sold += outcome.sold
        run.capacity += event.capacity
        run.sell_through.append(outcome.sold / event.capacity)
        if outcome.sellout_fraction is not None:
            run.sellouts.append(outcome.sellout_fraction)
    return run


def replicate(
    n_events: int, seed: int
) -> tuple[dict[str, list[Run]], tuple[list[SimEvent], list[dict[Arm, Outcome]]]]:
    """Every policy on one market, with delayed and with immediate rewards."""
    events = make_events(n_events, np.random.default_rng(seed))
    fixed = [outcomes(event) for event in events]
    runs = {
        name: [run_policy(p, events, fixed, name == "delayed") for p in policies(seed)]
        for name in ("delayed", "immediate")
    }
    return runs, (events, fixed)


def run_simulation(n_events: int, seed: int, out: Path, *, replications: int = 40) -> dict[str, Any]:
    """Every policy on `replications` markets of `n_events` events, with delayed rewards (as deployed)
    and, for comparison, with immediate ones; report.json and the plots in `out`."""
    master = random.Random(seed)
    scenarios: dict[str, list[list[Run]]] = {"delayed": [], "immediate": []}
    pools = []
    for _ in range(replications):
        runs, pool = replicate(n_events, master.randrange(2**31))
        for name, policy_runs in runs.items():
            scenarios[name].append(policy_runs)
        pools.append(pool)
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(scenarios, pools, n_events=n_events, seed=seed, replications=replications, out=out)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report

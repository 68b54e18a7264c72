"""The simulation's report: per policy and scenario (delayed / immediate rewards) the cumulative
regret, revenue, sell-through and arm shares over time; the power analysis of spec 1.5's open
question (can 50 events per arm detect a 5% revenue lift?); and the plots."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np

from shared.pricing.arms import ARMS
from tooling.pricing.market import WTP_MU, WTP_SIGMA, Run, expected_lift_events
from tooling.pricing.plots import plot_all

LIFT = 0.05
SPEC_EVENTS_PER_ARM = 50
POWER_GRID = (25, 50, 100, 200, 400, 800, 1600, 3200)
POWER_TRIALS = 4000


def regret_curve(run: Run) -> np.ndarray:
    """Cumulative regret against the replication's best single arm in hindsight."""
    totals = {arm: sum(cf[arm] for cf in run.counterfactual) for arm in ARMS}
    best = max(ARMS, key=lambda arm: totals[arm])
    return np.cumsum([cf[best] - reward for cf, reward in zip(run.counterfactual, run.rewards, strict=True)])


def arm_shares(runs: list[Run], bins: int) -> dict[str, list[float]]:
    """Per arm, its share of the events assigned in each consecutive block of `bins` events."""
    n = len(runs[0].arms)
    edges = np.linspace(0, n, bins + 1).astype(int)
    shares: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for lo, hi in itertools.pairwise(edges):
        block = [arm for run in runs for arm in run.arms[lo:hi]]
        for arm in ARMS:
            shares[arm].append(round(block.count(arm) / max(1, len(block)), 4))
    return shares


def summarize(runs: list[Run]) -> dict[str, Any]:
    """One policy over its replications."""
    curves = np.array([regret_curve(run) for run in runs])
    revenue = np.array([run.revenue for run in runs])
    through = np.array([run.sold / run.capacity for run in runs])
    per_event = [st for run in runs for st in run.sell_through]
    sellouts = [s for run in runs for s in run.sellouts]
    return {
        "revenue_mean": round(float(revenue.mean()), 2),
        "revenue_sd": round(float(revenue.std(ddof=1)), 2) if len(runs) > 1 else None,
        "reward_per_event": round(float(np.mean([np.mean(run.rewards) for run in runs])), 4),
        "sell_through": round(float(through.mean()), 4),
        "events_over_85pct_sold": round(float(np.mean([st > 0.85 for st in per_event])), 4),
        "sellout_time_median_of_window": round(float(np.median(sellouts)), 4) if sellouts else None,
        "final_regret_mean": round(float(curves[:, -1].mean()), 3),
        "final_regret_p10_p90": [round(float(v), 3) for v in np.percentile(curves[:, -1], [10, 90])],
        "regret_curve_mean": [round(float(v), 4) for v in curves.mean(axis=0)],
        "arm_share_total": {
            arm: round(sum(run.arms.count(arm) for run in runs) / sum(len(r.arms) for r in runs), 4)
            for arm in ARMS
        },
    }


def power_analysis(pools: list[tuple[list[Any], list[dict[str, Any]]]], seed: int) -> dict[str, Any]:
    """Events per arm for a two-sided 5% test with 80% power to see a 5% lift of revenue per event
    (reward = revenue over face revenue, the experiment's own metric), from the simulated events'
    spread under arm A; checked by resampling (two independent groups of n events, one lifted 5%)."""
    rewards = {
        arm: np.array(
            [o[arm].reward(e) for events, fixed in pools for e, o in zip(events, fixed, strict=True)]
        )
        for arm in ("A", "B", "C")
    }
    base = rewards["A"]
    mean, sd = float(base.mean()), float(base.std(ddof=1))
    needed = expected_lift_events(sd, mean, LIFT)
    rng = np.random.default_rng(seed)
    power = {}
    for n in sorted({*POWER_GRID, SPEC_EVENTS_PER_ARM, needed}):
        a = rng.choice(base, size=(POWER_TRIALS, n))
        b = rng.choice(base, size=(POWER_TRIALS, n)) * (1 + LIFT)
        z = (b.mean(axis=1) - a.mean(axis=1)) / np.sqrt(a.var(axis=1, ddof=1) / n + b.var(axis=1, ddof=1) / n)
        power[n] = round(float(np.mean(np.abs(z) > 1.959964)), 4)
    return {
        "lift": LIFT,
        "metric": "reward per event (net primary revenue / (capacity x face value)) under arm A",
        "events_simulated": int(base.size),
        "reward_mean": round(mean, 4),
        "reward_sd": round(sd, 4),
        "coefficient_of_variation": round(sd / mean, 4),
        "events_per_arm_needed_80pct_power": needed,
        "power_by_events_per_arm": {str(k): v for k, v in power.items()},
        "power_at_spec_50": power[SPEC_EVENTS_PER_ARM],
        "minimum_detectable_lift_at_50": round(2.801585 * sd * math.sqrt(2 / SPEC_EVENTS_PER_ARM) / mean, 4),
        "arm_means": {arm: round(float(r.mean()), 4) for arm, r in rewards.items()},
    }


def build_report(
    scenarios: dict[str, list[list[Run]]],
    pools: list[Any],
    *,
    n_events: int,
    seed: int,
    replications: int,
    out: Path,
) -> dict[str, Any]:
    bins = max(1, n_events // 20)  # blocks of 20 events: a multiple of the four arms
    results: dict[str, Any] = {}
    for name, per_replication in scenarios.items():
        by_policy: dict[str, list[Run]] = {}
        for runs in per_replication:
            for run in runs:
                by_policy.setdefault(run.policy, []).append(run)
        results[name] = {
            policy: {**summarize(runs), "arm_shares_over_time": arm_shares(runs, bins)}
            for policy, runs in by_policy.items()
        }
    power = power_analysis(pools, seed)
    report = {
        "command": f"ticketguard pricing simulate --events {n_events} --seed {seed} --replications {replications}",
        "market": {
            "wtp_mu": WTP_MU,
            "wtp_sigma": WTP_SIGMA,
            "note": "the simulator's catalogue with a willingness-to-pay response added (the simulator sells at face value only)",
        },
        "scenarios": results,
        "power": power,
        "summary": {
            name: {
                p: {k: v[k] for k in ("revenue_mean", "sell_through", "final_regret_mean")}
                for p, v in res.items()
            }
            for name, res in results.items()
        }
        | {
            "power_at_spec_50": power["power_at_spec_50"],
            "events_per_arm_needed": power["events_per_arm_needed_80pct_power"],
        },
    }
    report["plots"] = plot_all(report, out)
    return report

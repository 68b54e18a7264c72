"""The simulation report's plots (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ARM_COLOURS = {"A": "#7f7f7f", "B": "#d62728", "C": "#2ca02c", "D": "#1f77b4"}


def _regret(report: dict[str, Any], out: Path) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, (name, policies) in zip(axes, report["scenarios"].items(), strict=True):
        for policy, result in policies.items():
            ax.plot(range(1, len(result["regret_curve_mean"]) + 1), result["regret_curve_mean"], label=policy)
        ax.set_title(f"cumulative regret, {name} rewards")
        ax.set_xlabel("events assigned")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("regret (reward units, mean over replications)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / "regret.png", dpi=110)
    plt.close(fig)
    return "regret.png"


def _shares(report: dict[str, Any], out: Path) -> str:
    policies = report["scenarios"]["delayed"]
    fig, axes = plt.subplots(1, len(policies), figsize=(4 * len(policies), 3.6), sharey=True)
    for ax, (policy, result) in zip(axes, policies.items(), strict=True):
        shares = result["arm_shares_over_time"]
        size = len(result["regret_curve_mean"]) / len(shares["A"])
        blocks = [size * (i + 1) for i in range(len(shares["A"]))]
        ax.stackplot(
            blocks, *[shares[a] for a in shares], labels=list(shares), colors=[ARM_COLOURS[a] for a in shares]
        )
        ax.set_title(policy)
        ax.set_xlabel("events assigned (end of each block)")
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("share of events (delayed rewards)")
    axes[-1].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "arm_shares.png", dpi=110)
    plt.close(fig)
    return "arm_shares.png"


def _outcomes(report: dict[str, Any], out: Path) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label in (
        (axes[0], "revenue_mean", "revenue per experiment (USD)"),
        (axes[1], "sell_through", "sell-through"),
    ):
        names = list(report["scenarios"]["delayed"])
        width = 0.38
        for offset, scenario in ((-width / 2, "delayed"), (width / 2, "immediate")):
            values = [report["scenarios"][scenario][p][key] for p in names]
            ax.bar([i + offset for i in range(len(names))], values, width, label=f"{scenario} rewards")
        ax.set_xticks(range(len(names)), names, rotation=15)
        ax.set_title(label)
        if key == "sell_through":
            ax.axhline(0.85, color="black", linestyle="--", linewidth=1, label="spec target 85%")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "revenue_sell_through.png", dpi=110)
    plt.close(fig)
    return "revenue_sell_through.png"


def _power(report: dict[str, Any], out: Path) -> str:
    power = report["power"]
    points = sorted((int(n), p) for n, p in power["power_by_events_per_arm"].items())
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot([n for n, _ in points], [p for _, p in points], marker="o")
    ax.axhline(0.8, color="black", linestyle="--", linewidth=1, label="80% power")
    ax.axvline(50, color="red", linestyle=":", label="spec: 50 events per arm")
    ax.set_xscale("log")
    ax.set_xlabel("events per arm")
    ax.set_ylabel("power to detect a 5% revenue lift")
    ax.set_title(f"needed: {power['events_per_arm_needed_80pct_power']} events per arm")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "power.png", dpi=110)
    plt.close(fig)
    return "power.png"


def plot_all(report: dict[str, Any], out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    return [_regret(report, out), _shares(report, out), _outcomes(report, out), _power(report, out)]

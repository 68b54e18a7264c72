"""Arm D's demand model (training/pricing.py) and the policy simulation's parts: the fit recovers a
known elasticity, refuses what it cannot identify, and its optimum follows the capacity rule; the
simulated market prices with the runtime's strategies; a small simulation writes its report and plots."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from shared.pricing.policy import ArmStats
from tooling.pricing.market import dynamic_outcome, fixed_price_outcome, make_events
from tooling.pricing.policies import UCB1, EqualSplit, Thompson
from tooling.pricing.simulate import run_simulation
from training.pricing import HIGHEST, LOWEST, Observation, fit, optimal_multiplier


def test_given_events_from_a_known_demand_curve_when_fitted_then_the_elasticity_is_recovered() -> None:
    # Given 60 concert events whose sell-through follows 0.9 x m^-2.5 with 5% noise (none sold out:
    # a sold-out event is censored, which the fit cannot see)
    rng = random.Random(7)
    points = []
    for _ in range(60):
        m = rng.uniform(1.0, 1.4)
        points.append(Observation("concert", m, min(1.0, 0.9 * m**-2.5 * math.exp(rng.gauss(0, 0.05)))))
    # When fitted
    model = fit(points)["concert"]
    # Then the slope and scale are close, and the optimum is the price that just sells out
    # (0.9 x m^-2.5 = 1 at m = 0.959)
    assert model.elasticity == pytest.approx(-2.5, abs=0.25)
    assert model.scale == pytest.approx(0.9, rel=0.1)
    assert model.multiplier == pytest.approx(0.9 ** (1 / 2.5), rel=0.05)


def test_given_too_few_events_or_no_price_spread_then_no_model_is_fitted() -> None:
    # Given a category of 5 events, and one of 20 events all sold at face value
    few = [Observation("sports", 1.0 + i / 10, 0.5) for i in range(5)]
    flat = [Observation("theatre", 1.0, 0.3 + i / 100) for i in range(20)]
    # Then neither is fitted (arm D quotes the face value there)
    assert fit(few + flat) == {}


def test_given_inelastic_demand_then_the_optimum_is_the_upper_bound() -> None:
    assert optimal_multiplier(-0.5, 0.7) == HIGHEST
    # Elastic demand: the price that just sells out, within the bounds
    assert optimal_multiplier(-3.0, 2.0) == pytest.approx(2.0 ** (1 / 3))
    assert optimal_multiplier(-3.0, 5.0) == HIGHEST
    assert optimal_multiplier(-3.0, 0.2) == LOWEST


def test_given_a_simulated_event_when_priced_then_fixed_and_dynamic_prices_follow_the_buyers() -> None:
    # Given one event of the simulated market
    event = make_events(1, np.random.default_rng(3))[0]
    # When sold at face value Then the buyers willing to pay it buy, up to capacity
    at_face = fixed_price_outcome(event, 1.0)
    assert at_face.sold == min(event.capacity, int(np.sum(event.wtp >= 1.0)))
    # When priced by arm C (the runtime's quote, buyer by buyer) Then no sale is above a buyer's wtp
    early_bird = dynamic_outcome(event, "C")
    assert 0 < early_bird.sold <= event.capacity
    assert early_bird.revenue <= event.face * 1.2 * early_bird.sold + 1e-6


def test_given_the_policies_when_nothing_has_settled_then_each_acts_on_its_prior() -> None:
    empty = {arm: ArmStats() for arm in "ABCD"}
    assert [UCB1().pick(empty, turn) for turn in range(4)] == ["A", "B", "C", "D"]
    assert [EqualSplit().pick(empty, turn) for turn in range(5)] == ["A", "B", "C", "D", "A"]
    draws = [Thompson(random.Random(1)).pick(empty, 0) for _ in range(1)]
    assert set(draws) <= set("ABCD")
    # And once one arm is clearly best, Thompson sampling picks it nearly always
    sharp = {
        "A": ArmStats(200, 140.0, 100.0),
        "B": ArmStats(200, 180.0, 163.0),
        "C": ArmStats(200, 120.0, 74.0),
        "D": ArmStats(200, 130.0, 86.0),
    }
    picks = [Thompson(random.Random(seed)).pick(sharp, 0) for seed in range(200)]
    assert picks.count("B") >= 195


def test_given_a_small_simulation_when_run_then_it_writes_its_report_and_plots(tmp_path: Path) -> None:
    report = run_simulation(24, 5, tmp_path, replications=2)
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["summary"] == report["summary"]
    assert set(written["scenarios"]) == {"delayed", "immediate"}
    assert set(written["scenarios"]["delayed"]) == {"epsilon_greedy", "thompson", "ucb1", "equal_split"}
    for policy in written["scenarios"]["delayed"].values():
        assert len(policy["regret_curve_mean"]) == 24
        assert sum(policy["arm_share_total"].values()) == pytest.approx(1.0, abs=1e-3)
    assert written["power"]["events_per_arm_needed_80pct_power"] > 0
    for name in report["plots"]:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

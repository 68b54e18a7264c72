"""Calibration worlds (training.worlds, issue 23): simulated marketplaces besides the training world whose
honest purchases the bands are fitted on; built as the training world is, on seeds no evaluation uses,
and binding a band when their honest purchases score higher than validation's."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from shared.features.definitions import MODEL_FEATURES
from shared.model.policy import PolicyCalibration
from tests.fixtures.ml import quick_options
from tooling.livepath.gate import GATE_CELL
from tooling.livepath.matrix import SEEDS
from tooling.local.services import LocalServices
from tooling.simulator.config import SimulationConfig
from tooling.simulator.run import build_world
from training.data import table_from_training_set
from training.operating import TWO_FACTOR_FPR, apply_policy
from training.pipeline import run_training
from training.synthetic import synthetic_transactions
from training.worlds import CALIBRATION_WORLDS, END, CalibrationWorld, calibration_rows


def test_the_calibration_worlds_use_no_seed_that_trains_or_evaluates_a_model() -> None:
    # Given the seeds of the training world (ticketguard train's default 0), the matrix and the gate
    evaluated = {0, *SEEDS, GATE_CELL.seed}
    # Then no calibration world shares one, and no two calibration worlds are the same world
    seeds = [world.seed for world in CALIBRATION_WORLDS]
    assert not set(seeds) & evaluated
    assert len(set(seeds)) == len(seeds)


def test_given_a_small_world_when_built_then_its_rows_are_the_honest_purchases_of_its_last_days(
    services: LocalServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the session's PostgreSQL server and a small calibration world (7 days x 200 a day, its last
    # day kept)
    monkeypatch.setenv("DATABASE_URL", services.database_url or "")
    world = CalibrationWorld(seed=299, days=7.0, per_day=200, scored_days=1.0)
    # When its honest purchases are built through the simulator, the ETL and the training-set builder
    rows = calibration_rows((world,))[world.name]
    # Then they are the world's honest orders of that day (counted on the simulator's own world), with
    # the service's model features and nothing else
    config = SimulationConfig(seed=299, days=7.0, end=END, transactions_per_day=200)
    built = build_world(config)
    start, end = (END - timedelta(days=1)).timestamp(), END.timestamp()
    honest = [o for o in built.world.orders if o.scenario == "legit" and start <= o.created_at < end]
    assert len(rows) == len(honest) > 100
    assert list(rows.columns) == list(MODEL_FEATURES)
    assert rows["account_age_days"].notna().all()


def test_given_a_world_scoring_higher_than_validation_when_trained_then_it_sets_the_two_factor_cut(
    tmp_path: Path,
) -> None:
    # Given a training table and a "world" whose honest purchases look like its frauds (they score high)
    frame = synthetic_transactions(2500, seed=5)
    table = table_from_training_set(frame, source="t")
    world = frame.loc[frame["is_fraud"] == 1, list(table.features.columns)].reset_index(drop=True)
    options = quick_options(tmp_path, "vworld", calibration_worlds={"high world": world})
    # When a model is trained with it
    outcome = run_training(table, options)
    # Then REQUIRE_2FA starts where that world's honest purchases are flagged at most at its rate
    policy = outcome.report["operating_point"]["policy_calibration"]
    two_factor = policy["bands"][0]
    assert two_factor["bound_by"] == "high world"
    assert set(policy["legit_rows_by_set"]) == {"validation", "high world"}
    booster = xgb.Booster()
    booster.load_model(str(outcome.directory / "model.json"))
    probabilities = booster.predict(
        xgb.DMatrix(world.to_numpy(np.float32), feature_names=list(world.columns))
    )
    scores = apply_policy(PolicyCalibration.from_json(policy), probabilities)
    assert (scores >= 0.40).sum() <= int(TWO_FACTOR_FPR * len(world) + 1e-9)
    manifest = json.loads((outcome.directory / "manifest.json").read_text())
    assert manifest["policy_calibration"]["bands"][0]["bound_by"] == "high world"

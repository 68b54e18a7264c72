"""`ticketguard train`'s gate with the live-path check (issue 23, item 4): a candidate whose live-path FPR
at REQUIRE_2FA falls outside its own report's interval is registered for review, never promoted; the
check is part of the gate by default for the simulator source (`--no-live-gate` opts out)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.kpis.rates import summarize
from tests.fixtures.ml import quick_options
from tooling.cli import main as ticketguard
from tooling.livepath.gate import judge, live_path_gate
from tooling.livepath.matrix import training_seeds
from training import registry
from training.data import table_from_training_set
from training.pipeline import TrainOptions, run_training
from training.synthetic import synthetic_transactions


def _live(directory: Path, fpr_over_report: float, seen: list[Path]) -> dict[str, Any]:
    """What the live path would answer: the candidate's own report judged against a live FPR this far
    above the report's test-split rate (the replay itself is tests/integration/livepath's)."""
    seen.append(directory)
    report = json.loads((directory / "report.json").read_text())
    rate = report["operating_point"]["bands"]["two_factor"]["false_positive"]["rate"] + fpr_over_report
    flagged = round(rate * 10_000)
    rows = [{"scenario": "legit", "decision": "REQUIRE_2FA", "status": 200}] * flagged
    rows += [{"scenario": "legit", "decision": "APPROVED", "status": 200}] * (10_000 - flagged)
    return judge(report, summarize(rows), {"skewed": []})


def _train(root: Path, version: str, gate: Any) -> Any:
    table = table_from_training_set(synthetic_transactions(2500, seed=5, with_scenario=True), source="t")
    return run_training(table, quick_options(root, version, live_gate=gate))


def test_given_a_candidate_off_its_report_on_the_live_path_when_trained_then_current_stays(
    tmp_path: Path,
) -> None:
    # Given a registry whose CURRENT was trained, and a live path where the candidate flags 7 points more
    root = tmp_path / "registry"
    root.mkdir()
    seen: list[Path] = []
    first = _train(root, "vfirst", None)
    assert first.promoted
    # When a candidate is trained with the live-path gate
    outcome = _train(root, "vsecond", lambda d: _live(d, 0.07, seen))
    # Then the gate ran on the registered candidate, refused it, and CURRENT still names the first
    assert seen == [root / "vsecond"]
    assert not outcome.promoted
    assert (root / "CURRENT").read_text().strip() == "vfirst"
    gate = outcome.report["gate"]
    assert gate["live_path"]["passed"] is False and gate["promote"] is False
    assert "above the report's interval" in gate["reasons"][0]


def test_given_a_candidate_that_meets_its_report_on_the_live_path_when_trained_then_it_is_promoted(
    tmp_path: Path,
) -> None:
    # Given an empty registry and a live path that reproduces the report's FPR
    root = tmp_path / "registry"
    root.mkdir()
    # When trained with the live-path gate
    outcome = _train(root, "vok", lambda d: _live(d, 0.0, []))
    # Then it is promoted, the verdict recorded in the gate
    assert outcome.promoted and outcome.report["gate"]["live_path"] == {"passed": True, "reasons": []}
    assert registry.current_version_dir(root) == root / "vok"


class _Stop(Exception):
    """Raised by the recorded pipeline: the test needs the options the CLI built, not a model."""


@pytest.mark.parametrize(
    ("argv", "gated", "calibrated"),
    [
        ([], True, True),  # the simulator source (`make model`): live gate and calibration worlds
        (["--no-live-gate"], False, True),  # the opt-out for a quick local run
        (["--no-calibration-worlds"], True, False),  # the bands on validation alone
        (["--data", "{csv}", "--label", "is_fraud"], False, False),  # a table of its own features
        (["--data", "{csv}", "--label", "is_fraud", "--live-gate"], True, False),
        (["--data", "{csv}", "--label", "is_fraud", "--calibration-worlds"], False, False),  # no world
        (["--training-set", "{csv}"], False, False),  # the retraining build's exported set
    ],
)
def test_given_a_training_source_when_ticketguard_train_runs_then_the_live_gate_is_on_unless_opted_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], gated: bool, calibrated: bool
) -> None:
    # Given a small labelled table, served as the simulator's training set too, and a pipeline that
    # records the options the CLI gives it
    import training.pipeline
    import training.sources
    import training.worlds

    frame = synthetic_transactions(600, seed=5)
    csv = tmp_path / "set.csv"
    frame.to_csv(csv, index=False)
    table = table_from_training_set(frame, source="t")
    monkeypatch.setattr(training.sources, "simulated_training_table", lambda **_: (table, {"summary": "t"}))
    worlds = {
        "seed 201 (35 d x 3000/day)": frame
    }  # the worlds' own build: tests/integration/ml/test_worlds.py
    monkeypatch.setattr(training.worlds, "calibration_rows", lambda: worlds)
    seen: list[Any] = []

    def record(_table: Any, options: TrainOptions) -> Any:
        seen.append((options.live_gate, options.calibration_worlds, options.training_source))
        raise _Stop

    monkeypatch.setattr(training.pipeline, "run_training", record)
    # When `ticketguard train` runs with these arguments
    args = [a.replace("{csv}", str(csv)) for a in argv]
    with pytest.raises(_Stop):
        ticketguard(["train", *args, "--out", str(tmp_path / "registry"), "--bootstrap", "0"])
    # Then the training gate includes the live-path check exactly when it should
    (gate, calibration, source), *more = seen
    assert not more and gate is (live_path_gate if gated else None)
    # And the bands are fitted on the calibration worlds exactly when the source is the simulator's,
    # whose training source then names their seeds (the matrix refuses a seed the model was fitted on)
    assert calibration == (worlds if calibrated else {})
    assert (201 in training_seeds({"training_source": source})) is calibrated

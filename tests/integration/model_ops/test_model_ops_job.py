"""The model-ops job (functions/model_ops, shared/jobs/model_ops.py) on the embedded PostgreSQL: the
watchdog rolls a worse shadow back without a person, a drifted day starts one retraining however
often the job or an alarm asks within the cooldown, an alarm during a canary rolls it back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shared.jobs.model_ops import run_model_ops
from shared.model import rollout
from tests.fixtures.drift import live_vectors, store_predictions, younger_wallets
from tests.integration.model_ops.conftest import CANDIDATE, SERVED
from tests.integration.model_ops.helpers import hours, label, predict, shadow

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)


def scheduled(at: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "local",
        "resources": [],
        "detail": {},
    }


def alarm(name: str, state: str = "ALARM") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "a1",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "000000000000",
        "time": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "local",
        "resources": [],
        "detail": {"alarmName": name, "state": {"value": state}},
    }


class Starts:
    """The retraining pipeline's starter, counting its starts (the real ones are a state machine and a
    background training: tests/integration/model_ops/test_local_retrain.py, tests/e2e/test_model_ops.py)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, reason: str, detail: dict[str, Any]) -> str:
        self.calls.append((reason, detail))
        return f"run-{len(self.calls)}"


def actions(db: psycopg.Connection) -> list[tuple[str, str]]:
    return db.execute("SELECT action, reason FROM intel.model_ops_log ORDER BY entry_id").fetchall()


def test_given_a_shadow_that_misses_fraud_when_the_job_runs_then_it_is_rolled_back_without_a_person(
    db: psycopg.Connection, two_versions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_MODEL_OPS_WATCHDOG_MIN_FRAUDS", "6")
    store = rollout.LocalStore(two_versions)
    rollout.start_candidate(
        store, CANDIDATE, "shadow", by="retrain", reason="drift retraining", now=NOW - hours(30)
    )
    # Given 6 labelled frauds the served model stopped and the shadow approved, and 2 honest purchases
    for i in range(8):
        fraud = i < 6
        predict(db, f"t{i}", "BLOCKED" if fraud else "APPROVED", at=NOW - hours(20), version=SERVED)
        shadow(db, f"t{i}", "APPROVED", at=NOW - hours(20), version=CANDIDATE)
        label(db, f"t{i}", fraud, at=NOW - hours(2))
    # When the scheduled job runs
    summary = run_model_ops(scheduled(NOW), starter=Starts())
    # Then the watchdog found it worse and rolled it back: the served version stays, the history says why
    assert summary["watchdog"]["verdict"] == "worse"
    assert summary["watchdog"]["candidate"]["detection_rate"] == 0.0
    assert summary["watchdog"]["served"]["detection_rate"] == 1.0
    state = store.rollout()
    assert state.candidate is None and store.current() == SERVED
    assert state.history[-1]["action"] == "rollback" and state.history[-1]["by"] == "watchdog"
    assert [a for a, _ in actions(db)] == ["rollback"]


def test_given_a_drifted_day_when_the_job_runs_twice_then_one_retraining_starts_and_the_second_waits(
    db: psycopg.Connection, drift_model_dir: Path
) -> None:
    # Given a day of purchases whose wallets are a tenth of the age the model trained on
    store_predictions(db, live_vectors(400, seed=11, shift=younger_wallets), at=NOW - timedelta(minutes=5))
    starts = Starts()
    # When the hourly job runs, then again an hour later
    first = run_model_ops(scheduled(NOW), starter=starts)
    second = run_model_ops(scheduled(NOW + hours(1)), starter=starts)
    # Then the first started the pipeline for drift over 0.15, the second was held by the cooldown
    assert first["emergency"]["drift_kl"] > 0.15 and first["emergency"]["status"] == "started"
    assert second["emergency"]["status"] == "cooldown"
    assert [reason for reason, _ in starts.calls] == ["drift"]
    assert actions(db) == [("retrain_started", "drift"), ("retrain_cooldown", "drift")]
    # And an alarm's ALARM state within the cooldown starts nothing either; past it, it does
    assert (
        run_model_ops(alarm("ticketguard-dev-model-detection-drop"), starter=starts)["status"] == "cooldown"
    )
    assert len(starts.calls) == 1


def test_given_no_drift_when_the_job_runs_then_nothing_starts(
    db: psycopg.Connection, drift_model_dir: Path
) -> None:
    store_predictions(db, live_vectors(400, seed=11), at=NOW - timedelta(minutes=5))
    starts = Starts()
    summary = run_model_ops(scheduled(NOW), starter=starts)
    assert summary["emergency"]["drift_kl"] < 0.15 and "status" not in summary["emergency"]
    assert starts.calls == []


def test_given_a_canary_when_another_alarm_fires_then_the_canary_is_rolled_back(
    db: psycopg.Connection, two_versions: Path
) -> None:
    store = rollout.LocalStore(two_versions)
    rollout.start_candidate(store, CANDIDATE, "canary", weight=0.1, by="cli:ann", reason="r")
    # An OK state changes nothing; ALARM of the fraud-rate alarm ends the canary
    assert (
        run_model_ops(alarm("ticketguard-dev-fraud-rate-spike", "OK"), starter=Starts())["action"] == "none"
    )
    result = run_model_ops(alarm("ticketguard-dev-fraud-rate-spike"), starter=Starts())
    assert result["action"] == "rollback" and store.rollout().candidate is None
    assert actions(db) == [
        ("rollback", f"alarm ticketguard-dev-fraud-rate-spike fired while {CANDIDATE} ran as a canary")
    ]


def test_given_a_settled_day_when_the_handler_runs_then_it_emits_the_served_versions_quality(
    db: psycopg.Connection,
    drift_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.model_ops.handler import handler
    from shared.observability import metrics
    from tests.fixtures.drift import DRIFT_MODEL_VERSION
    from tooling.local.gateway import LocalLambdaContext

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    # Given the served version's decisions of a day that ended 14 days ago: 5 frauds (2 stopped, 1 asked
    # for 2FA, 2 approved), 5 honest (1 stopped): every count and every rate differs from the others, so
    # no two metrics can be swapped unseen (FP 1 != FN 3: precision != recall)
    day = NOW - timedelta(days=14, hours=12)
    for i, (decision, fraud) in enumerate(
        [("BLOCKED", True), ("MANUAL_REVIEW", True), ("REQUIRE_2FA", True), ("APPROVED", True)]
        + [("APPROVED", True), ("BLOCKED", False)]
        + [("APPROVED", False)] * 4
    ):
        predict(db, f"s{i}", decision, at=day, version=DRIFT_MODEL_VERSION)
        if fraud:
            label(db, f"s{i}", True, at=day + hours(30))
    metrics.clear_metrics()
    capsys.readouterr()
    # When the hourly job's handler runs
    summary = handler(scheduled(NOW), LocalLambdaContext("model_ops", "r1"))
    [emf_line] = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emf = json.loads(emf_line)
    # Then the served version's precision 2/3, recall 2/5, detection 3/5, FPR 1/5 and its matrix are emitted
    assert summary["quality"]["served_version"] == DRIFT_MODEL_VERSION
    assert emf["ModelPrecision"] == [pytest.approx(66.6667)] and emf["ModelRecall"] == [40.0]
    assert emf["ModelDetectionRate"] == [60.0] and emf["ModelFalsePositiveRate"] == [20.0]
    assert [
        emf[f"Settled{n}"] for n in ("TruePositive", "FalsePositive", "TrueNegative", "FalseNegative")
    ] == [
        [2],
        [1],
        [4],
        [3],
    ]
    assert emf["RetrainRequested"] == [0] and emf["model_version"] == DRIFT_MODEL_VERSION
    assert db.execute("SELECT count(*) FROM intel.model_quality").fetchone() == (1,)

"""Model drift on the embedded PostgreSQL: measured from stored predictions, and emitted as ModelDriftKL
by the feature job's Lambda handler (or, with a reason in the log, not emitted)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from functions.features.handler import handler as features_handler
from shared.config import get_settings
from shared.jobs.scheduled import model_drift
from shared.model.drift import measure_drift
from shared.model.manifest import MANIFEST_NAME
from shared.model.reference import FeatureReference
from shared.observability import metrics
from shared.scoring.types import Reason
from tests.fixtures.drift import (
    DRIFT_MODEL_VERSION,
    live_vectors,
    store_predictions,
    write_model_manifest,
    younger_wallets,
)
from tooling.local.gateway import LocalLambdaContext

END = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
ALARM_THRESHOLD = 0.15  # infra/config.py AlarmThresholds.model_drift_kl


def _measure(db: psycopg.Connection, reference: FeatureReference, min_rows: int = 200):
    return measure_drift(
        db, reference, DRIFT_MODEL_VERSION, end=END, window=DAY, min_rows=min_rows, reason=Reason.MODEL.value
    )


def test_given_predictions_drawn_like_the_training_rows_then_drift_is_small(
    db: psycopg.Connection, drift_reference: FeatureReference
) -> None:
    # Given 600 model-scored predictions drawn from the training rows' generator (another seed)
    store_predictions(db, live_vectors(600, seed=11), at=END)
    # When drift is measured over the day before END
    report = _measure(db, drift_reference)
    # Then every feature is measured and even the largest divergence is far below the alarm
    assert report.status == "measured" and report.rows == 600
    assert set(report.kl_by_feature) == set(drift_reference.features)
    assert report.kl_max == max(report.kl_by_feature.values())
    assert report.kl_max is not None and report.kl_max < ALARM_THRESHOLD / 3


def test_given_predictions_with_younger_wallets_then_drift_exceeds_the_alarm_on_that_feature(
    db: psycopg.Connection, drift_reference: FeatureReference
) -> None:
    # Given 600 predictions whose wallets are a tenth of the age the model trained on
    store_predictions(db, live_vectors(600, seed=12, shift=younger_wallets), at=END)
    # When drift is measured
    report = _measure(db, drift_reference)
    # Then the maximum is above the alarm threshold and names wallet_age_days; the rest stay small
    assert report.kl_max is not None and report.kl_max > ALARM_THRESHOLD
    assert report.kl_max_feature == "wallet_age_days"
    others = {name: kl for name, kl in report.kl_by_feature.items() if name != "wallet_age_days"}
    assert max(others.values()) < ALARM_THRESHOLD / 3


def test_given_shifted_predictions_of_other_versions_reasons_or_times_then_they_are_not_counted(
    db: psycopg.Connection, drift_reference: FeatureReference
) -> None:
    # Given 300 predictions like the training rows, and shifted ones the measurement must leave out:
    # another model version, a blocklist decision, one scored before the window and one after END
    store_predictions(db, live_vectors(300, seed=13), at=END)
    shifted = live_vectors(300, seed=14, shift=younger_wallets)
    store_predictions(db, shifted, at=END, model_version="vother", prefix="other-version")
    store_predictions(db, shifted, at=END, reason="blocklist_wallet", prefix="blocklist")
    store_predictions(db, shifted, at=END - DAY, prefix="before")
    store_predictions(db, shifted[:1], at=END + timedelta(seconds=1), prefix="after")
    # When drift is measured
    report = _measure(db, drift_reference)
    # Then only the 300 in the window count, and they do not drift
    assert report.rows == 300
    assert report.kl_max is not None and report.kl_max < ALARM_THRESHOLD / 3


def test_given_fewer_predictions_than_the_minimum_then_insufficient_data_and_no_value(
    db: psycopg.Connection, drift_reference: FeatureReference
) -> None:
    store_predictions(db, live_vectors(199, seed=15, shift=younger_wallets), at=END)
    report = _measure(db, drift_reference, min_rows=200)
    assert report.status == "insufficient_data" and report.rows == 199
    assert report.kl_max is None and report.kl_by_feature == {}
    assert "fewer than 200" in report.detail


def _run_feature_job(capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The features handler on an hourly event at END: its summary, and the EMF document it flushed."""
    metrics.clear_metrics()  # process-wide: start from nothing
    capsys.readouterr()
    summary = features_handler(
        {"mode": "hourly", "as_of": END.isoformat()}, LocalLambdaContext("features", "req-1")
    )
    [emf_line] = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    return summary, json.loads(emf_line)


@pytest.fixture
def emitting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


@pytest.mark.usefixtures("drift_model_dir", "emitting")
def test_given_drifted_predictions_when_the_feature_job_runs_then_model_drift_kl_is_emitted(
    db: psycopg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the served model has a feature reference and the last day's predictions drifted
    store_predictions(db, live_vectors(400, seed=16, shift=younger_wallets), at=END)
    # When the feature job's handler runs
    summary, emf = _run_feature_job(capsys)
    # Then it emits the largest KL as ModelDriftKL (namespace TicketGuard, dimension service), next to
    # the feature job's own metrics, and returns the per-feature values it logged
    drift = summary["drift"]
    assert drift["status"] == "measured" and drift["rows"] == 400
    assert drift["model_version"] == DRIFT_MODEL_VERSION and drift["kl_max_feature"] == "wallet_age_days"
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "TicketGuard" and ["service"] in directive["Dimensions"]
    assert emf["service"] == "ticketguard"
    # Powertools writes each metric's samples as a list: one sample per run
    assert emf["ModelDriftKL"] == [pytest.approx(drift["kl_max"])] and drift["kl_max"] > ALARM_THRESHOLD
    assert emf["drift_feature"] == "wallet_age_days" and emf["drift_model_version"] == DRIFT_MODEL_VERSION
    assert "FeatureRowsWritten" in emf


def _model_without_reference(tmp_path: Path) -> Path:
    return write_model_manifest(tmp_path / "model", reference=None)


def _model_with_a_broken_reference(tmp_path: Path) -> Path:
    directory = write_model_manifest(tmp_path / "model", reference=None)
    raw = json.loads((directory / MANIFEST_NAME).read_text())
    raw["feature_reference"] = {"rows": 10, "features": {}}
    (directory / MANIFEST_NAME).write_text(json.dumps(raw))
    return directory


@pytest.mark.usefixtures("emitting")
@pytest.mark.parametrize(
    ("model", "status", "why"),
    [
        (_model_without_reference, "no_reference", "retrain to measure drift"),
        (lambda tmp_path: tmp_path / "nowhere", "no_model", "does not exist"),
        (_model_with_a_broken_reference, "failed", "ModelIntegrityError"),
    ],
)
def test_given_no_usable_reference_when_the_feature_job_runs_then_it_succeeds_without_drift_metric(
    db: psycopg.Connection,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    model,
    status: str,
    why: str,
) -> None:
    # Given drifted predictions, but a served model drift cannot be measured against
    monkeypatch.setenv("TG_MODEL_DIR", str(model(tmp_path)))
    get_settings.cache_clear()
    store_predictions(db, live_vectors(400, seed=17, shift=younger_wallets), at=END)
    # When the feature job's handler runs
    summary, emf = _run_feature_job(capsys)
    # Then the feature job still reports its work, says why there is no drift, and emits no ModelDriftKL
    assert (
        summary["snapshots"] == {"hourly": "2026-03-02T11:00:00+00:00"}
        and "wallet_hold_time" in summary["rows_written"]
    )
    assert summary["drift"]["status"] == status and why in summary["drift"]["detail"]
    assert "ModelDriftKL" not in emf and "FeatureRowsWritten" in emf


@pytest.mark.usefixtures("drift_model_dir", "emitting")
def test_given_too_few_predictions_when_the_feature_job_runs_then_no_drift_metric(
    db: psycopg.Connection, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a minimum of 500 predictions (TG_DRIFT_MIN_ROWS) and 400 drifted ones
    monkeypatch.setenv("TG_DRIFT_MIN_ROWS", "500")
    get_settings.cache_clear()
    store_predictions(db, live_vectors(400, seed=18, shift=younger_wallets), at=END)
    # When the feature job's handler runs
    summary, emf = _run_feature_job(capsys)
    # Then nothing is emitted, and the summary says why
    assert summary["drift"]["status"] == "insufficient_data" and summary["drift"]["rows"] == 400
    assert "ModelDriftKL" not in emf


@pytest.mark.usefixtures("drift_model_dir")
def test_given_a_drift_window_setting_then_the_window_ends_at_the_given_time_and_spans_it(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 250 predictions in the last 2 hours before END and 250 in the 2 hours before those
    store_predictions(db, live_vectors(250, seed=19), at=END, prefix="recent")
    store_predictions(db, live_vectors(250, seed=20), at=END - timedelta(hours=2), prefix="earlier")
    # When drift is measured over a 2-hour window (TG_DRIFT_WINDOW_HOURS)
    monkeypatch.setenv("TG_DRIFT_WINDOW_HOURS", "2")
    get_settings.cache_clear()
    report = model_drift(db, END)
    # Then only the recent ones count
    assert report.window_start == END - timedelta(hours=2) and report.window_end == END
    assert report.rows == 250 and report.status == "measured"

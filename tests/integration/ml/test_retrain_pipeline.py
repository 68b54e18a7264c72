"""The retraining pipeline's steps, run here through the entry points AWS runs (infra/retrain.py):
the export function against the embedded PostgreSQL, `ticketguard train --training-set --registry
--outcome` (CodeBuild's one command) on a small synthetic set, the gate against the registry's served
model, the publish function against moto's S3, and the scoring loader picking the published model up
(or falling back to the model it ships with when the download is corrupt)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import psycopg
import pytest

from shared.config import get_settings
from shared.errors import ValidationFailed
from shared.features.definitions import SIGNAL_NAMES
from shared.features.training import LABEL_SETTLING, TRAINING_SET_COLUMNS, build_training_set
from shared.jobs.retrain import OUTCOME_NAME, RUNS_PREFIX, TRAINING_SET_NAME, write_training_set_csv
from shared.model import ARTIFACTS_ROOT, clear_model_cache, load_model
from shared.model.manifest import read_manifest
from shared.model.remote import read_pointer, write_pointer
from tests.fixtures.etl import T0, Market
from tests.fixtures.ml import require_tool
from tests.integration.ml.s3_registry import BUCKET, REGISTRY, SHIPPED
from tooling.cli import main as ticketguard
from tooling.local.gateway import LocalLambdaContext
from training.compile import host_architecture
from training.retrain import read_training_set, upload_version
from training.synthetic import synthetic_transactions


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The functions' environment: the registry, the layer's model (here the shipped one), a /tmp."""
    cache = tmp_path / "lambda-tmp"
    monkeypatch.setenv("TG_ARCHIVE_BUCKET", BUCKET)
    monkeypatch.setenv("TG_MODEL_REGISTRY", REGISTRY.uri)
    monkeypatch.setenv("TG_MODEL_DIR", str(ARTIFACTS_ROOT))
    monkeypatch.setenv("TG_MODEL_CACHE_DIR", str(cache))
    get_settings.cache_clear()
    clear_model_cache()
    yield cache
    clear_model_cache()


def _csv_gz(frame: pd.DataFrame, path: Path) -> Path:
    """A synthetic table in the export step's own format (shared.jobs.retrain.write_training_set_csv)."""
    frame = frame.assign(occurred_at=frame["occurred_at"].dt.floor("us"))
    # The export writes every column of TRAINING_SET_COLUMNS: the synthetic table has the spec's ten
    # features only, so the signals it lacks are written as missing (empty cells), in the export's order.
    frame = frame.reindex(columns=list(TRAINING_SET_COLUMNS))
    rows = [
        [None if isinstance(v, float) and math.isnan(v) else v for v in record]
        for record in frame.astype(object).itertuples(index=False, name=None)
    ]
    rows = [[row[0], row[1].to_pydatetime(), *row[2:]] for row in rows]
    write_training_set_csv(rows, path)
    return path


def _put_training_set(s3: Any, frame: pd.DataFrame, tmp_path: Path, run: str) -> str:
    key = f"{RUNS_PREFIX}{run}/{TRAINING_SET_NAME}"
    s3.upload_file(str(_csv_gz(frame, tmp_path / f"{run}.csv.gz")), BUCKET, key)
    return f"s3://{BUCKET}/{key}"


def _build(training_set: str, run: str) -> dict[str, Any]:
    """CodeBuild's command (infra/retrain.py buildspec), for this machine's architecture."""
    outcome = f"s3://{BUCKET}/{RUNS_PREFIX}{run}/{OUTCOME_NAME}"
    code = ticketguard(
        [
            "train",
            "--training-set",
            training_set,
            "--registry",
            REGISTRY.uri,
            "--outcome",
            outcome,
            "--source",
            f"test run {run}",
            "--arch",
            host_architecture(),
            "--bootstrap",
            "10",
        ]
    )
    assert code == 0
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=outcome.removeprefix(f"s3://{BUCKET}/"))["Body"]
    return json.loads(body.read())


def _publish_event(run: str) -> dict[str, str]:
    """What the state machine hands the publish function."""
    return {"run_id": run, "outcome": f"s3://{BUCKET}/{RUNS_PREFIX}{run}/{OUTCOME_NAME}"}


def _keys(s3: Any, prefix: str) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])}


# ------------------------------------------------------------------------- step 1: plan and export
def _export_event(started_at: datetime, **request: Any) -> dict[str, Any]:
    return {"request": request, "run_id": "run-export", "started_at": started_at.isoformat()}


def test_given_an_odd_week_when_the_schedule_fires_then_the_export_skips_without_the_database(s3, deployed):
    # Given no database at all (DATABASE_URL is unset), When the bi-weekly rule fires in ISO week 47
    from functions.retrain_export.handler import handler

    result = handler(
        _export_event(datetime(2026, 11, 22, 2, tzinfo=UTC), cadence="biweekly"),
        LocalLambdaContext("retrain", "req-1"),
    )
    # Then the run stops at the plan, and nothing is written
    assert result["status"] == "skipped" and "ISO week 47 is odd" in result["reason"]
    assert _keys(s3, RUNS_PREFIX) == set()


def test_given_an_empty_database_when_an_emergency_run_exports_then_it_fails_naming_the_window(
    s3, deployed, database_url
):
    from functions.retrain_export.handler import handler

    with pytest.raises(ValidationFailed, match="no transactions between 2026-09-18 and 2026-10-30"):
        handler(
            _export_event(datetime(2026, 11, 29, 2, tzinfo=UTC), reason="drift", weeks=6),
            LocalLambdaContext("retrain", "req-1"),
        )


def test_given_the_marketplace_when_exported_then_the_csv_is_the_point_in_time_training_set_of_the_settled_window(
    s3, deployed, db: psycopg.Connection, market: Market
):
    from functions.retrain_export.handler import handler
    from tests.integration.etl.test_features import build_scenario, expected_target_features, load

    # Given the features room's hand-computed scenario, one of its purchases labelled fraud
    scenario = build_scenario(db, market)
    load(db, scenario)
    db.execute(
        "INSERT INTO intel.fraud_labels (transaction_id, is_fraud, source, labelled_at) VALUES (%s, true, 'chargeback', %s)",
        (scenario.target, T0 + timedelta(days=3)),
    )
    # When an emergency run starts 30 days (labels settled) and an hour after the target purchase
    started = T0 + LABEL_SETTLING + timedelta(hours=1)
    result = handler(
        _export_event(started, reason="drift", detail={"model_drift_kl": 0.2}, weeks=3),
        LocalLambdaContext("retrain", "req-1"),
    )
    # Then the training set of the 3 weeks before `started - 30 days` is in the run's folder
    assert result["status"] == "exported" and result["reason"] == "drift"
    assert (result["rows"], result["frauds"]) == (7, 1)
    assert result["training_set"] == f"s3://{BUCKET}/{RUNS_PREFIX}run-export/{TRAINING_SET_NAME}"
    assert result["outcome"].endswith(f"/run-export/{OUTCOME_NAME}")
    assert "(drift)" in result["source"]
    # And read back as the build reads it, it is build_training_set's table, row for row
    path = Path(deployed.parent / "export.csv.gz")
    s3.download_file(BUCKET, f"{RUNS_PREFIX}run-export/{TRAINING_SET_NAME}", str(path))
    exported = read_training_set(path, "exported")
    end = started - LABEL_SETTLING
    frame = build_training_set(db, end - timedelta(weeks=3), end).sort_values("occurred_at", kind="stable")
    assert np.array_equal(exported.labels, frame["is_fraud"].to_numpy())
    pd.testing.assert_frame_equal(exported.features, frame[exported.feature_names].reset_index(drop=True))
    target = pd.read_csv(path).set_index("transaction_id").loc[scenario.target]
    for name, value in expected_target_features().items():
        assert target[name] == pytest.approx(value, rel=1e-12), name


# -------------------------------------------------- step 2 (CodeBuild) and step 3 (publish), then serving
@pytest.mark.slow
def test_given_no_served_version_when_a_run_builds_then_the_gate_compares_with_the_shipped_model(
    s3, deployed, tmp_path
):
    require_tool("gcc", "readelf")
    from functions.retrain_publish.handler import handler as publish

    # Given a registry without CURRENT: the functions serve the model of their layer
    shipped = read_manifest(SHIPPED).version
    assert load_model().version == shipped
    # When the build step trains on data unlike what the shipped model was trained on (with every
    # feature the shipped model reads, so that its envelope applies: the signals all zero)
    unlike = synthetic_transactions(2500, seed=5).assign(**dict.fromkeys(SIGNAL_NAMES, 0.0))
    training_set = _put_training_set(s3, unlike, tmp_path, "run-a")
    outcome = _build(training_set, "run-a")
    # Then the candidate was gated against the shipped model (its trusted envelope and fraud rate),
    # and uploaded (manifest, library, report) without touching CURRENT
    version = outcome["version"]
    assert outcome["baseline"] == {"source": "shipped", "version": shipped}
    assert outcome["registry"] == REGISTRY.uri and outcome["architectures"] == [host_architecture()]
    files = _keys(s3, f"models/{version}/")
    assert {f"models/{version}/manifest.json", f"models/{version}/report.json"} <= files
    assert f"models/{version}/libtgmodel-{host_architecture()}.so" in files
    assert outcome["promote"] is False
    assert any(reason.startswith("training data anomaly") for reason in outcome["reasons"])
    # And the publish step refuses it: CURRENT stays absent, scoring keeps the shipped model
    result = publish(_publish_event("run-a"), LocalLambdaContext("retrain", "req-1"))
    assert result["status"] == "refused" and read_pointer(REGISTRY, s3).version is None
    clear_model_cache()
    assert load_model().version == shipped


@pytest.mark.slow
def test_given_a_served_model_when_a_comparable_candidate_trains_and_publishes_then_scoring_serves_it(
    s3, deployed, tmp_path, trained_registry: Path
):
    from functions.retrain_publish.handler import handler as publish

    # Given the session's model served from the registry, loaded by a scoring container
    upload_version(trained_registry / "vtest.1", REGISTRY, s3)
    write_pointer(REGISTRY, "vtest.1", s3)
    assert load_model().version == "vtest.1"
    # When the build step trains on data of the same distribution
    outcome = _build(_put_training_set(s3, synthetic_transactions(), tmp_path, "run-c"), "run-c")
    # Then the gate compared it with vtest.1 and passes it
    assert outcome["baseline"] == {"source": "registry", "version": "vtest.1"}
    assert outcome["promote"] is True, outcome["reasons"]
    # When the publish step runs, Then CURRENT names the candidate
    result = publish(_publish_event("run-c"), LocalLambdaContext("retrain", "req-1"))
    assert (result["status"], result["previous"]) == ("promoted", "vtest.1")
    assert read_pointer(REGISTRY, s3).version == outcome["version"]
    # And a new scoring container (cold start) loads the candidate, verified, from the registry
    clear_model_cache()
    model = load_model()
    assert model.version == outcome["version"]
    assert model.library_path.is_relative_to(deployed)
    assert 0.0 <= model.predict([None] * model.n_features) <= 1.0


@pytest.mark.slow
def test_given_a_served_model_when_a_worse_candidate_trains_then_the_gate_refuses_and_current_stays(
    s3, deployed, tmp_path, trained_registry: Path
):
    from functions.retrain_publish.handler import handler as publish

    # Given the session's model served from the registry
    upload_version(trained_registry / "vtest.1", REGISTRY, s3)
    write_pointer(REGISTRY, "vtest.1", s3)
    # When the new data's labels before its test week are shuffled (a candidate learns noise), while
    # the test week keeps its true labels
    frame = synthetic_transactions(2500, seed=21)
    early = frame["occurred_at"] <= frame["occurred_at"].max() - pd.Timedelta(days=7)
    frame.loc[early, "is_fraud"] = np.random.default_rng(3).permutation(
        frame.loc[early, "is_fraud"].to_numpy()
    )
    outcome = _build(_put_training_set(s3, frame, tmp_path, "run-b"), "run-b")
    # Then the gate compared it with the served vtest.1 on the same test week, and refused it
    assert outcome["baseline"] == {"source": "registry", "version": "vtest.1"}
    assert outcome["promote"] is False
    assert any("worse than the current model's" in reason for reason in outcome["reasons"]), outcome[
        "reasons"
    ]
    assert outcome["gate"]["new"]["auc_pr"] < outcome["gate"]["current"]["auc_pr"]
    # And the publish step leaves CURRENT on vtest.1 (the refused version stays for review)
    result = publish(
        {"run_id": "run-b", "outcome": f"s3://{BUCKET}/{RUNS_PREFIX}run-b/{OUTCOME_NAME}"},
        LocalLambdaContext("retrain", "req-1"),
    )
    assert result["status"] == "refused" and result["previous"] == "vtest.1"
    assert read_pointer(REGISTRY, s3).version == "vtest.1"
    assert f"models/{outcome['version']}/manifest.json" in _keys(s3, "models/")

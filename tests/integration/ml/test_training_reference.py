"""Given a trained version, its manifest carries the feature reference drift is measured against, and
the feature job measures the served model's drift with it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from shared.config import get_settings
from shared.features.definitions import FEATURE_NAMES
from shared.jobs.scheduled import model_drift
from shared.model.manifest import read_manifest
from tests.fixtures.drift import live_vectors, store_predictions
from training.reference import MAX_BINS

pytestmark = pytest.mark.slow


def test_the_manifest_holds_a_reference_per_feature_that_sums_to_1(trained_registry: Path) -> None:
    # Given the session's tiny model trained on the synthetic table (half of avg_ticket_hold_time missing)
    manifest = read_manifest(trained_registry / "vtest.1")
    reference = manifest.feature_reference
    # Then its reference covers the ten features in order, counted on the training + validation rows
    # the model learned from: those of the split, less the ones the poisoning screen quarantined
    assert reference is not None
    assert tuple(reference.features) == FEATURE_NAMES
    quarantined = json.loads((trained_registry / "vtest.1" / "report.json").read_text())["defences"][
        "quarantined"
    ]
    assert (
        reference.rows
        == manifest.raw["training_profile"]["rows"] - quarantined["train"] - quarantined["valid"]
    )
    for name, bins in reference.features.items():
        assert sum(bins.probabilities()) == pytest.approx(1.0, abs=1e-9), name
        assert 1 <= len(bins.shares) <= MAX_BINS, name
    assert len(reference.features["geo_velocity_flag"].shares) == 2
    assert 0.4 < reference.features["avg_ticket_hold_time"].missing_share < 0.6
    assert reference.features["txn_velocity_1h"].missing_share == 0.0


def test_given_the_trained_model_served_then_drift_of_like_traffic_is_small(
    trained_registry: Path, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the trained version is the served model, and a day of predictions like its training rows
    monkeypatch.setenv("TG_MODEL_DIR", str(trained_registry))
    get_settings.cache_clear()
    end = datetime(2026, 9, 30, tzinfo=UTC)
    store_predictions(db, live_vectors(500, seed=31), at=end, model_version="vtest.1")
    # When the feature job's drift step measures it
    report = model_drift(db, end)
    # Then it is measured against that version's reference and stays below the alarm threshold
    assert report.status == "measured" and report.model_version == "vtest.1" and report.rows == 500
    assert report.kl_max is not None and report.kl_max < 0.15

"""Given the default training source, when a small marketplace is simulated in a real database, then the
ETL training set comes back as a table in the one feature order, inside the window after the warm-up
and before the label-settling period, with binary labels and missing values kept missing."""

from __future__ import annotations

import math

import psycopg
import pytest

from shared.features.definitions import MODEL_FEATURES
from training.sources import DEFAULT_END, LABEL_SETTLING, WARM_UP, build_from_simulation

pytestmark = pytest.mark.slow


def test_simulated_marketplace_becomes_a_training_table(db: psycopg.Connection) -> None:
    table, details = build_from_simulation(db, weeks=3, scale=0.1, seed=3, end=DEFAULT_END)
    assert table.feature_names == list(MODEL_FEATURES)
    assert len(table.labels) == details["rows"] > 100
    assert set(table.labels.tolist()) <= {0, 1}
    assert table.times is not None and table.times.is_monotonic_increasing
    window_start = details["window"]["start"]
    window_end = details["window"]["end"]
    assert table.times.min().isoformat() >= window_start and table.times.max().isoformat() < window_end
    assert details["simulated_days"] == WARM_UP.days + 21 + LABEL_SETTLING.days
    # never-sold wallets have no holding time: missing, not zero
    assert table.features["avg_ticket_hold_time"].isna().any()
    assert not any(math.isinf(v) for v in table.features.to_numpy().ravel() if v == v)

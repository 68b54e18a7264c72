"""Issue 23's done-when: a test plants a training/serving skew (a serving feature computed an hour
stale) and the live-path check catches it. The plant: the feature jobs snapshot the hour before the
one their schedule names, so scoring serves the hourly features an hour older than the training rows
(which give each purchase the snapshot its schedule publishes) teach the model."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tooling.livepath.gate import judge
from tooling.livepath.replay import Cell, replay
from tooling.livepath.stack import Stack

pytestmark = pytest.mark.slow

# The replay test's world (tests/integration/livepath/test_replay.py shows it has no skew unplanted).
SMALL = Cell(seed=101, days=1.25, per_day=120, score_days=0.75)
HOURLY_FEATURES = {
    "avg_ticket_hold_time",
    "event_popularity_score",
    "price_deviation_ratio",
    "wallet_age_days",
}


def test_given_hourly_features_served_an_hour_stale_when_replayed_then_the_live_path_check_refuses(
    live_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given feature jobs that compute their snapshot an hour stale
    import shared.jobs.scheduled as scheduled

    real = scheduled.run_feature_job

    def stale(conn: Any, mode: Any = "hourly", *, as_of: Any = None, redis: Any = None) -> Any:
        return real(conn, mode, as_of=as_of - timedelta(hours=1), redis=redis)

    monkeypatch.setattr(scheduled, "run_feature_job", stale)
    # When the small world is replayed through the live path
    with live_stack.cell_database() as url:
        result = replay(SMALL, url)
    # Then the parity check names an hourly feature as skewed
    assert set(result.parity["skewed"]) & HOURLY_FEATURES, result.parity["features"]
    # And the training gate's live-path check refuses the model for it, whatever its FPR
    report = {"operating_point": {"bands": {"two_factor": {"false_positive": {"ci95": [0.0, 1.0]}}}}}
    verdict = judge(report, result.outcome, result.parity)
    assert not verdict["passed"]
    assert any("training/serving skew" in reason for reason in verdict["reasons"])

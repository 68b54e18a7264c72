"""Given the weekly EventBridge trigger, the retrain handler trains only on even ISO weeks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.ml.retrain import should_run
from tests.fixtures.ml import LambdaContext


@pytest.mark.parametrize(
    ("day", "cadence", "runs"),
    [
        (datetime(2026, 11, 22, 2, tzinfo=UTC), "biweekly", False),  # ISO week 47
        (datetime(2026, 11, 29, 2, tzinfo=UTC), "biweekly", True),  # ISO week 48
        (datetime(2026, 11, 22, 2, tzinfo=UTC), None, True),  # emergency: always
        (datetime(2026, 11, 29, 2, tzinfo=UTC), "hourly", False),
    ],
)
def test_bi_weekly_runs_on_even_iso_weeks(day: datetime, cadence: str | None, runs: bool) -> None:
    assert should_run(day, cadence)[0] is runs


def test_handler_skips_an_odd_week_without_touching_the_database() -> None:
    from functions.retrain.handler import handler

    response = handler({"cadence": "biweekly", "time": "2026-11-22T02:00:00Z"}, LambdaContext())
    assert response["status"] == "skipped"
    assert "ISO week 47 is odd" in response["reason"]


def test_handler_refuses_a_bad_event_clearly() -> None:
    from functions.retrain.handler import handler

    response = handler({"weeks": 1}, LambdaContext())
    assert response["status"] == "failed" and response["reason"].startswith("bad event")

"""A fraud-rate spike tightens REQUIRE_2FA for a fixed time, within fixed bounds, recorded; it reverts by
itself; an admin overrides it; scoring decides with the threshold in force (shared/oncall/tightening.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from shared.config import Thresholds, get_settings
from shared.errors import ValidationFailed
from shared.oncall.actions import alarm_name, on_alarm
from shared.oncall.tightening import (
    FLOOR,
    AdjustedThresholds,
    end_by_admin,
    set_by_admin,
    tighten,
    tightened_value,
)

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class _Pool:
    def __init__(self, url: str) -> None:
        self.url = url
        self.reads = 0

    def connection(self) -> psycopg.Connection:
        self.reads += 1
        return psycopg.connect(self.url, autocommit=True)


def test_given_a_spike_then_two_factor_tightens_for_its_time_then_reverts(
    db, database_url, monkeypatch
) -> None:
    monkeypatch.setenv("TG_ONCALL_TIGHTEN_SECONDS", "600")
    get_settings.cache_clear()
    # Given the configured 0.40, When the fraud-rate-spike alarm fires (through its action)
    result = on_alarm(lambda: psycopg.connect(database_url, autocommit=True), "fraud-rate-spike", "ALARM", T0)
    adjustment = result["adjustment"]
    # Then the threshold is 0.30 for 10 minutes, recorded with its alarm and the value it replaced
    assert (adjustment["value"], adjustment["base_value"], adjustment["source"]) == (0.30, 0.40, "alarm")
    assert adjustment["expires_at"] == (T0 + timedelta(minutes=10)).isoformat()
    thresholds = AdjustedThresholds(lambda: _Pool(database_url))
    assert thresholds.at(T0 + timedelta(minutes=1)).two_factor == 0.30
    # And a second notification changes nothing (idempotent, not extended)
    again = tighten(db, T0 + timedelta(minutes=5), alarm="fraud-rate-spike")
    assert again.adjustment_id == adjustment["adjustment_id"]
    # When its time has passed, Then the configured threshold applies again, without a re-read
    assert thresholds.at(T0 + timedelta(minutes=10, seconds=1)).two_factor == 0.40
    rows = db.execute("select count(*) from oncall.threshold_adjustments").fetchone()
    assert rows == (1,)  # the record stays


def test_given_bounds_then_tightening_never_goes_below_the_floor() -> None:
    assert tightened_value(0.40) == 0.30
    assert tightened_value(0.30) == FLOOR
    assert tightened_value(0.20) == 0.20  # already below the floor: not raised, not lowered


def test_given_an_admin_then_they_override_within_bounds_or_end_it(db) -> None:
    tighten(db, T0, alarm="fraud-rate-spike")
    # When an admin sets 0.35 for an hour, Then it wins over the alarm's, and the alarm's is ended
    mine = set_by_admin(
        db,
        T0 + timedelta(minutes=1),
        actor="admin@example.com",
        value=0.35,
        duration=timedelta(hours=1),
        reason="false alarm: a model fault",
    )
    assert (mine.value, mine.source) == (0.35, "admin")
    pool = _Pool(db.info.dsn)
    assert AdjustedThresholds(lambda: pool).at(T0 + timedelta(minutes=2)).two_factor == 0.35
    ended = db.execute(
        "select count(*) from oncall.threshold_adjustments where ended_by is not null"
    ).fetchone()
    assert ended == (1,)
    # And values outside [floor, review) or without a reason are refused with a message
    for value, duration, reason in (
        (0.10, timedelta(hours=1), "x"),
        (0.70, timedelta(hours=1), "x"),
        (0.35, timedelta(days=2), "x"),
        (0.35, timedelta(hours=1), " "),
    ):
        with pytest.raises(ValidationFailed):
            set_by_admin(db, T0, actor="a", value=value, duration=duration, reason=reason)
    # When the admin ends it, Then the configured threshold applies
    assert end_by_admin(db, T0 + timedelta(minutes=3), actor="admin@example.com") == 1
    assert (
        AdjustedThresholds(lambda: pool).at(T0 + timedelta(minutes=4)).two_factor == Thresholds().two_factor
    )


def test_given_postgres_unreachable_then_the_configured_thresholds_apply() -> None:
    class Down:
        def connection(self):
            raise psycopg.OperationalError("down")

    assert AdjustedThresholds(lambda: Down()).at(T0).two_factor == Thresholds().two_factor


def test_given_other_alarms_then_their_action_is_named_where_it_runs(db) -> None:
    result = on_alarm(lambda: pytest.fail("no database needed"), "model-drift", "ALARM", T0)
    assert result["action"] == "retrain" and "model-ops" in result["done_by"]
    assert alarm_name("ticketguard-prod-fraud-rate-spike") == "fraud-rate-spike"
    assert alarm_name("other-alarm") is None

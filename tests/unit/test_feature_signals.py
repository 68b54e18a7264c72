"""The signals' arithmetic and constants (shared/features/formulas.py), with cases at each boundary:
the integration cases (tests/integration/etl/test_feature_signals.py) place rows at the windows' edges;
these hold the windows to what shared/features/signals.py's table documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.features import formulas
from shared.features.definitions import FEATURE_NAMES, MODEL_FEATURES, SIGNAL_NAMES

T = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_windows_are_the_documented_ones() -> None:
    assert timedelta(hours=24) == formulas.PAYMENT_VELOCITY_WINDOW
    assert timedelta(days=7) == formulas.SHARED_INSTRUMENT_WINDOW
    assert timedelta(hours=1) == formulas.FAILED_LOGIN_WINDOW
    assert timedelta(hours=2) == formulas.RECENT_SESSION_WINDOW
    assert timedelta(days=90) == formulas.ACCOUNT_HISTORY_WINDOW
    assert timedelta(days=30) == formulas.RING_WINDOW
    assert formulas.RING_MAX_LENGTH == 4


def test_the_spec_ten_keep_their_names_and_order_and_the_signals_follow() -> None:
    # The API is public: the ten come first, unchanged; the signals are added after them
    assert MODEL_FEATURES[: len(FEATURE_NAMES)] == FEATURE_NAMES
    assert MODEL_FEATURES[len(FEATURE_NAMES) :] == SIGNAL_NAMES
    assert len(set(MODEL_FEATURES)) == len(MODEL_FEATURES) == 18


@pytest.mark.parametrize(
    ("registered", "expected"),
    [(T - timedelta(days=400), 400.0), (T - timedelta(hours=6), 0.25), (T, 0.0), (T + timedelta(seconds=1), None),
     (None, None)],
)  # fmt: skip
def test_account_age_days(registered: datetime | None, expected: float | None) -> None:
    assert formulas.account_age_days(registered, T) == expected


def test_wallet_age_counts_from_the_earliest_record() -> None:
    # A wallet registered 90 days before t is 90 days old, whatever the system saw later
    assert formulas.wallet_age_days(T - timedelta(days=90), T) == pytest.approx(90.0)
    assert formulas.wallet_age_days(None, T) == 0.0


@pytest.mark.parametrize(
    ("has_history", "seen", "expected"),
    [(True, False, 1.0), (True, True, 0.0), (False, False, 0.0), (True, None, 0.0), (False, None, 0.0)],
)
def test_novelty_flag(has_history: bool, seen: bool | None, expected: float) -> None:
    assert formulas.novelty_flag(has_history, seen) == expected


@pytest.mark.parametrize(
    ("hops", "expected"), [(None, 0.0), (0, 0.0), (1, 2.0), (2, 3.0), (3, 4.0), (4, 0.0)]
)
def test_cycle_length(hops: int | None, expected: float) -> None:
    assert formulas.cycle_length(hops) == expected


@pytest.mark.parametrize(
    ("account", "ip", "expected"),
    [("NG", "BR", 1.0), ("NG", "NG", 0.0), ("GB ", "GB", 0.0), ("gb", "GB", 0.0), (None, "GB", None),
     ("GB", None, 0.0), ("", "GB", None), (None, None, None)],
)  # fmt: skip
def test_foreign_ip_flag(account: str | None, ip: str | None, expected: float | None) -> None:
    # Given the account's registered country (char(2) may come padded) and the buyer IP's country,
    # Then another country flags, the same does not, an unknown IP does not (coarse data never flags),
    # and without an account's country the signal is missing, never 0
    assert formulas.foreign_ip_flag(account, ip) == expected

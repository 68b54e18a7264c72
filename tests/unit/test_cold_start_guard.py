"""The cold-start guard (shared/scoring/coldstart.py): when it acts, and what its map does to a score.

Given a short history and a live score distribution that flags more than the budget, the guard moves
the live (1 - budget) quantile onto the REQUIRE_2FA threshold; otherwise it leaves scores alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.config import Thresholds
from shared.scoring import coldstart
from shared.scoring.coldstart import ReplayGuard, guard_cut, percentile_cont
from shared.scoring.decision import decide, guarded_score
from shared.scoring.types import Decision

T = Thresholds()  # 0.40 / 0.65 / 0.85
AT = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_constants() -> None:
    assert coldstart.COLD_START_DAYS == 28.0
    assert coldstart.MIN_HISTORY_ORDERS == 1000
    assert coldstart.FLAG_SHARE_BUDGET == 0.03
    assert coldstart.MIN_SCORES == 200
    assert timedelta(hours=24) == coldstart.SCORE_WINDOW
    assert timedelta(minutes=10) == coldstart.REFRESH


@pytest.mark.parametrize(
    ("old_orders", "scores", "flagged", "quantile", "expected"),
    [
        (0, 500, 0.10, 0.55, 0.55),  # no history, busy, flagging 10%: acts
        (999, 500, 0.10, 0.55, 0.55),
        (1000, 500, 0.10, 0.55, None),  # enough orders older than 28 days
        (0, 199, 0.10, 0.55, None),  # too few decisions to know the distribution
        (0, 200, 0.10, 0.55, 0.55),
        (0, 500, 0.03, 0.55, None),  # within the budget
        (0, 500, 0.031, 0.55, 0.55),
        (0, 500, 0.10, 0.40, None),  # the quantile already at the threshold
        (0, 500, 0.10, 1.0, 0.999),
    ],
)
def test_when_the_guard_acts(
    old_orders: int, scores: int, flagged: float, quantile: float, expected: float | None
) -> None:
    assert guard_cut(old_orders, scores, flagged, quantile, T) == expected


def test_the_map_moves_the_cut_onto_the_2fa_threshold_and_keeps_order() -> None:
    cut = 0.55
    assert guarded_score(cut, cut, T) == pytest.approx(0.40)
    assert guarded_score(0.0, cut, T) == 0.0
    assert guarded_score(1.0, cut, T) == pytest.approx(1.0)
    assert guarded_score(0.5, cut, T) == pytest.approx(0.5 * 0.40 / 0.55)
    assert guarded_score(0.9, cut, T) == pytest.approx(0.40 + 0.35 * 0.60 / 0.45)
    grid = [i / 1000 for i in range(1001)]
    mapped = [guarded_score(s, cut, T) for s in grid]
    assert mapped == sorted(mapped) and all(m <= s + 1e-9 for m, s in zip(mapped, grid, strict=True))
    # And a score below the cut no longer asks for 2FA; the cut and above still do
    assert decide(guarded_score(0.54, cut, T), T) is Decision.APPROVED
    assert decide(guarded_score(0.55, cut, T), T) is Decision.REQUIRE_2FA
    # And with the guard off, the identity
    assert guarded_score(0.5, None, T) == 0.5


def test_percentile_cont_is_postgres_linear_interpolation() -> None:
    assert percentile_cont([], 0.5) is None
    assert percentile_cont([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile_cont([0.0, 10.0], 0.97) == pytest.approx(9.7)


def _raw(n: int) -> list[float]:
    """A model flagging 15% of purchases (scores >= 0.40), a few of them very high."""
    return [0.8 * ((i * 37) % 100) / 100 if (i * 37) % 100 < 85 else 0.45 + (i % 50) / 100 for i in range(n)]


def test_a_replay_on_a_young_marketplace_holds_the_flagged_share_near_the_budget() -> None:
    # Given a marketplace without orders older than 28 days (a dozen, like the demo cast's, do not count)
    guard = ReplayGuard([AT - timedelta(days=30)] * 12, T)
    raw = _raw(2000)
    # When each purchase is scored a minute apart
    served = [guard.score(AT + timedelta(minutes=i), score) for i, score in enumerate(raw)]
    # Then once the guard knows the distribution, about the budget is flagged, far below the raw share
    raw_share = sum(s >= T.two_factor for s in raw[1000:]) / 1000
    served_share = sum(s >= T.two_factor for s in served[1000:]) / 1000
    assert raw_share > 0.1
    assert served_share <= coldstart.FLAG_SHARE_BUDGET + 0.01
    # And the highest scores are still blocked
    assert max(served) == max(raw) and decide(max(served), T) is Decision.BLOCKED


def test_a_replay_on_a_settled_marketplace_changes_nothing() -> None:
    guard = ReplayGuard([AT - timedelta(days=60)] * 1000, T)
    raw = _raw(600)
    assert [guard.score(AT + timedelta(minutes=i), s) for i, s in enumerate(raw)] == raw

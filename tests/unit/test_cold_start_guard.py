"""The cold-start guard (shared/scoring/coldstart.py): when it acts, and what its map does to a score.

Given a short history and a live score distribution that flags more than the budget, the guard moves
the live (1 - budget) quantile onto the REQUIRE_2FA threshold; otherwise it leaves scores alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.config import Thresholds
from shared.scoring import coldstart
from shared.scoring.coldstart import ReplayGuard, guard_cut, guarded_score, percentile_cont
from shared.scoring.decision import decide
from shared.scoring.types import Decision

T = Thresholds()  # 0.40 / 0.65 / 0.85
AT = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_constants() -> None:
    assert coldstart.COLD_START_DAYS == 28.0
    assert coldstart.FLAG_SHARE_BUDGET == 0.03
    assert coldstart.MIN_SCORES == 200
    assert timedelta(hours=24) == coldstart.SCORE_WINDOW
    assert timedelta(minutes=10) == coldstart.REFRESH


@pytest.mark.parametrize(
    ("history", "scores", "flagged", "quantile", "expected"),
    [
        (3.0, 500, 0.10, 0.55, 0.55),  # young, busy, flagging 10%: acts
        (27.9, 500, 0.10, 0.55, 0.55),
        (28.0, 500, 0.10, 0.55, None),  # history long enough
        (None, 500, 0.10, 0.55, None),  # no order reported yet
        (3.0, 199, 0.10, 0.55, None),  # too few decisions to know the distribution
        (3.0, 200, 0.10, 0.55, 0.55),
        (3.0, 500, 0.03, 0.55, None),  # within the budget
        (3.0, 500, 0.031, 0.55, 0.55),
        (3.0, 500, 0.10, 0.90, 0.65),  # never beyond the review threshold
    ],
)
def test_when_the_guard_acts(
    history: float | None, scores: int, flagged: float, quantile: float, expected: float | None
) -> None:
    assert guard_cut(history, scores, flagged, quantile, T) == expected


def test_the_map_moves_the_cut_onto_the_2fa_threshold_and_keeps_order() -> None:
    cut = 0.55
    assert guarded_score(cut, cut, T) == pytest.approx(0.40)
    assert guarded_score(0.0, cut, T) == 0.0
    assert guarded_score(0.65, cut, T) == pytest.approx(0.65)  # the review threshold stays
    assert guarded_score(0.9, cut, T) == 0.9  # above review: unchanged
    assert guarded_score(0.5, cut, T) == pytest.approx(0.5 * 0.40 / 0.55)
    assert guarded_score(0.6, cut, T) == pytest.approx(0.40 + 0.05 * 0.25 / 0.10)
    grid = [i / 1000 for i in range(1001)]
    mapped = [guarded_score(s, cut, T) for s in grid]
    assert mapped == sorted(mapped) and all(m <= s for m, s in zip(mapped, grid, strict=True))
    # And a score below the cut no longer asks for 2FA; the cut and above still do
    assert decide(guarded_score(0.54, cut, T), T) is Decision.APPROVED
    assert decide(guarded_score(0.55, cut, T), T) is Decision.REQUIRE_2FA
    # And with the guard off, the identity
    assert guarded_score(0.5, None, T) == 0.5


def test_percentile_cont_is_postgres_linear_interpolation() -> None:
    assert percentile_cont([], 0.5) is None
    assert percentile_cont([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile_cont([0.0, 10.0], 0.97) == pytest.approx(9.7)


def test_a_replay_on_a_young_marketplace_holds_the_flagged_share_near_the_budget() -> None:
    # Given a marketplace 2 days old whose model gives 15% of purchases a score >= 0.40
    guard = ReplayGuard(AT - timedelta(days=2), T)
    raw = [0.8 * ((i * 37) % 100) / 100 if (i * 37) % 100 < 85 else 0.45 + (i % 7) / 100 for i in range(2000)]
    flagged = []
    for i, score in enumerate(raw):
        # When each is scored a minute apart
        flagged.append(guard.score(AT + timedelta(minutes=i), score) >= T.two_factor)
    raw_share = sum(s >= T.two_factor for s in raw[1000:]) / 1000
    # Then once the guard knows the distribution, about the budget is flagged, far below the raw share
    served_share = sum(flagged[1000:]) / 1000
    assert raw_share > 0.1
    assert served_share <= coldstart.FLAG_SHARE_BUDGET + 0.01


def test_a_replay_on_a_settled_marketplace_changes_nothing() -> None:
    guard = ReplayGuard(AT - timedelta(days=60), T)
    scores = [((i * 37) % 100) / 100 for i in range(600)]
    assert [guard.score(AT + timedelta(minutes=i), s) for i, s in enumerate(scores)] == scores

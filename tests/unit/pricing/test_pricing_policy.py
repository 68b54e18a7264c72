"""The pricing experiment's pure parts: the four strategies, the guardrails and kill switch, the
popularity signal, and epsilon-greedy routing's exploration share over many draws."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.pricing.arms import EventContext, multiplier, popularity, quote
from shared.pricing.policy import ArmStats, best_arm, choose

SALE = datetime(2026, 12, 1, tzinfo=UTC)
SHOW = SALE + timedelta(days=20)


def _ctx(now: datetime, popularity: float = 0.5, model: float | None = None) -> EventContext:
    return EventContext(Decimal("100.00"), SALE, SHOW, now, popularity, model)


def test_given_each_arm_when_priced_then_the_spec_multipliers_apply() -> None:
    middle = SALE + timedelta(days=10)
    # Given arm A: always the face value
    assert multiplier("A", _ctx(middle, popularity=0.99)) == 1.0
    # Given arm B: +15% above popularity 0.7 only (0.7 itself is not above)
    assert multiplier("B", _ctx(middle, popularity=0.71)) == 1.15
    assert multiplier("B", _ctx(middle, popularity=0.7)) == 1.0
    # Given arm C: -10% in the first 48 h of sales, +20% in the last 48 h, face value between
    assert multiplier("C", _ctx(SALE + timedelta(hours=47, minutes=59))) == 0.90
    assert multiplier("C", _ctx(SALE + timedelta(hours=48))) == 1.0
    assert multiplier("C", _ctx(SHOW - timedelta(hours=48))) == 1.20
    assert multiplier("C", _ctx(SHOW - timedelta(hours=49))) == 1.0
    # Given arm D: the category model's multiplier, the face value while untrained
    assert multiplier("D", _ctx(middle, model=1.08)) == 1.08
    assert multiplier("D", _ctx(middle, model=None)) == 1.0


def test_given_a_short_sale_window_when_both_c_windows_overlap_then_the_last_48_hours_win() -> None:
    # Given an event whose sale opens 60 h before it starts
    ctx = EventContext(Decimal("50.00"), SALE, SALE + timedelta(hours=60), SALE + timedelta(hours=13), 0.1)
    # When priced in hour 13 (inside both windows) Then the late premium applies
    assert multiplier("C", ctx) == 1.20


def test_given_guardrails_when_a_strategy_leaves_them_then_the_price_is_clamped() -> None:
    late = SHOW - timedelta(hours=1)
    # Given arm C's +20% (120.00) and a ceiling of 110.00
    high = quote("C", _ctx(late), Decimal("90.00"), Decimal("110.00"))
    assert (high.price, high.clamped) == (Decimal("110.00"), "ceiling")
    # Given arm C's -10% (90.00) and a floor of 95.00
    low = quote("C", _ctx(SALE), Decimal("95.00"), Decimal("130.00"))
    assert (low.price, low.clamped) == (Decimal("95.00"), "floor")
    # Given a price inside the guardrails: unchanged
    inside = quote("C", _ctx(late), Decimal("50.00"), Decimal("150.00"))
    assert (inside.price, inside.clamped) == (Decimal("120.00"), None)


def test_given_the_kill_switch_when_quoting_any_arm_then_arm_a_price_is_served() -> None:
    for arm in ("B", "C", "D"):
        # Given an arm that would move the price, and the kill switch set
        priced = quote(
            arm,
            _ctx(SHOW - timedelta(hours=1), popularity=0.95, model=1.3),
            Decimal(0),
            Decimal(999),
            killed=True,
        )
        # Then the fixed price is quoted and says why
        assert (priced.arm, priced.price, priced.kill_switch) == ("A", Decimal("100.00"), True)


def test_given_sales_pace_and_resale_premium_then_popularity_is_0_7_on_pace_and_capped_at_1() -> None:
    # Given half the capacity sold after half the sale window: on pace to sell out
    assert popularity(50, 100, 0.5, None) == pytest.approx(0.7)
    # Given resale at 1.3x face value with slow primary sales: the premium rules
    assert popularity(5, 100, 0.5, 1.3) == pytest.approx(0.91)
    # Given everything sold on day one: capped
    assert popularity(100, 100, 0.05, None) == 1.0
    # Given nothing sold: 0
    assert popularity(0, 100, 0.5, None) == 0.0


def test_given_no_rewards_yet_then_a_is_best_and_ties_go_to_the_first_arm() -> None:
    assert best_arm({}) == "A"
    assert best_arm({"B": ArmStats(2, 1.0, 0.5), "C": ArmStats(4, 2.0, 1.0)}) == "B"  # 0.5 each: B first
    assert best_arm({"A": ArmStats(5, 4.0, 3.3), "D": ArmStats(1, 0.9, 0.81)}) == "D"


def test_given_epsilon_0_15_when_drawn_many_times_then_exploration_share_is_within_binomial_bounds() -> None:
    # Given arm C clearly best
    stats = {"A": ArmStats(10, 7.0, 5.0), "B": ArmStats(10, 7.5, 6.0), "C": ArmStats(10, 9.0, 8.2)}
    rng = random.Random(28)
    draws = 40_000
    # When routing 40,000 events
    picks = [choose(stats, 0.15, rng) for _ in range(draws)]
    explored = [arm for arm, was_explored in picks if was_explored]
    # Then the exploration share is 0.15 within 4 standard deviations of a binomial(40000, 0.15)
    bound = 4 * math.sqrt(draws * 0.15 * 0.85)
    assert abs(len(explored) - 0.15 * draws) < bound
    # And every exploit is the best arm, every exploration one of the three others, evenly
    assert all(arm == "C" for arm, was_explored in picks if not was_explored)
    assert "C" not in explored
    for arm in ("A", "B", "D"):
        share = explored.count(arm) / len(explored)
        assert abs(share - 1 / 3) < 4 * math.sqrt((1 / 3) * (2 / 3) / len(explored))


def test_given_epsilon_0_then_never_explores_and_epsilon_1_always_does() -> None:
    rng = random.Random(1)
    assert {choose({}, 0.0, rng) for _ in range(200)} == {("A", False)}
    assert all(explored for _, explored in (choose({}, 1.0, rng) for _ in range(200)))

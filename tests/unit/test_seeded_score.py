"""`make run`'s seeded decisions are made as the scoring path makes them (tooling/local/seed.py
seeded_score, beside shared.scoring.decision.verdict): the model's score, the cold-start guard, then the
rules' floors. Issue 23: without the rules the demo week approved the demo scalper's whole burst."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from shared.config import Thresholds
from shared.scoring.coldstart import ReplayGuard
from shared.scoring.decision import decide
from shared.scoring.rules import band_middle
from shared.scoring.types import Decision
from tooling.local.seed import seeded_score

T = Thresholds()  # 0.40 / 0.65 / 0.85
AT = datetime(2026, 5, 1, 12, tzinfo=UTC)
SETTLED = [AT - timedelta(days=60)] * 1000  # history enough: the guard leaves scores alone


class _FixedModel:
    """A model that gives every purchase the same probability (the rules, not the model, are tested)."""

    version = "v-test"
    feature_names: tuple[str, ...] = ("wallet_age_days", "txn_velocity_1h", "resale_cycle_length")

    def __init__(self, probability: float) -> None:
        self.probability = probability

    def predict(self, values: Sequence[float | None]) -> float:
        return self.probability

    def contributions(self, values: Sequence[float | None]) -> list[float]:
        return [0.0] * len(values)


def _values(age: float, velocity: float, cycle: float = 0.0) -> dict[str, float | None]:
    return {"wallet_age_days": age, "txn_velocity_1h": velocity, "resale_cycle_length": cycle}


def test_given_a_new_wallets_second_purchase_in_the_hour_when_seeded_then_require_2fa() -> None:
    # Given the demo scalper's shape: a wallet an hour old buying its second ticket within the hour,
    # which the model scores 0.13
    guard = ReplayGuard(SETTLED, T)
    # When the seeded purchase is scored
    output, score = seeded_score(_FixedModel(0.13), guard, AT, _values(0.04, 1.0), T)
    # Then the model's own score is kept apart, and the decision is REQUIRE_2FA (new_wallet_burst)
    assert output.score == 0.13
    assert score == band_middle(Decision.REQUIRE_2FA, T)
    assert decide(score, T) is Decision.REQUIRE_2FA


def test_given_a_closed_resale_cycle_when_seeded_then_manual_review() -> None:
    guard = ReplayGuard(SETTLED, T)
    _own, score = seeded_score(_FixedModel(0.05), guard, AT, _values(300.0, 0.0, cycle=3.0), T)
    assert decide(score, T) is Decision.MANUAL_REVIEW


def test_given_no_rule_holds_when_seeded_then_the_models_score_decides() -> None:
    # Given an old wallet's first purchase of the hour
    guard = ReplayGuard(SETTLED, T)
    output, score = seeded_score(_FixedModel(0.13), guard, AT, _values(300.0, 0.0), T)
    # Then nothing moves the score
    assert output.score == score == 0.13
    assert decide(score, T) is Decision.APPROVED

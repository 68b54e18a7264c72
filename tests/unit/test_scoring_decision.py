"""Decision bands, their boundaries, confidence and top features (spec 1.6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from shared.api.models import Decision
from shared.api.spec import load_openapi
from shared.config import Thresholds
from shared.features.realtime import FeatureResult
from shared.scoring.decision import Scoring, confidence, decide, top_features, verdict
from shared.scoring.rules import (
    NEW_WALLET_BURST,
    NEW_WALLET_DAYS,
    RESALE_CYCLE,
    RULES,
    band_middle,
    ruled_score,
)
from shared.scoring.types import PredictResponse

SPEC = Thresholds(two_factor=0.40, review=0.65, block=0.85)
_AT = datetime(2026, 12, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.0, Decision.APPROVED),
        (0.3999, Decision.APPROVED),
        (0.40, Decision.REQUIRE_2FA),  # boundary: >= two_factor asks for 2FA
        (0.65, Decision.REQUIRE_2FA),  # boundary: not > review
        (0.6501, Decision.MANUAL_REVIEW),
        (0.73, Decision.MANUAL_REVIEW),  # the spec's own example
        (0.85, Decision.MANUAL_REVIEW),  # boundary: not > block
        (0.8501, Decision.BLOCKED),
        (1.0, Decision.BLOCKED),
    ],
)
def test_given_spec_thresholds_when_deciding_then_band_and_boundary_rule_hold(
    score: float, expected: Decision
) -> None:
    # Given the spec's thresholds, When a score is decided, Then it lands in the documented band
    assert decide(score, SPEC) is expected


def test_given_configured_thresholds_when_deciding_then_they_are_used() -> None:
    # Given stricter thresholds from configuration
    strict = Thresholds(two_factor=0.1, review=0.2, block=0.3)
    # When/Then a score the spec would approve is blocked
    assert decide(0.35, strict) is Decision.BLOCKED
    assert decide(0.35, SPEC) is Decision.APPROVED


@pytest.mark.parametrize("boundary", [0.40, 0.65, 0.85])
def test_given_score_on_a_boundary_when_confidence_then_one_half(boundary: float) -> None:
    # Given a score exactly on a threshold, When its confidence is computed, Then it is the minimum 0.5
    assert confidence(boundary, SPEC) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.0, 1.0),  # as far from 0.40 as APPROVED allows
        (0.20, 0.75),  # halfway into APPROVED
        (0.525, 1.0),  # middle of REQUIRE_2FA [0.40, 0.65]
        (0.75, 0.5 + 0.5 * 0.10 / 0.10),  # middle of MANUAL_REVIEW [0.65, 0.85]
        (0.70, 0.5 + 0.5 * 0.05 / 0.10),
        (1.0, 1.0),
        (0.925, 0.75),
    ],
)
def test_given_scores_inside_bands_when_confidence_then_distance_to_nearest_boundary_scaled(
    score: float, expected: float
) -> None:
    assert confidence(score, SPEC) == pytest.approx(expected, abs=1e-4)


def test_given_scores_moving_away_from_a_boundary_when_confidence_then_it_grows() -> None:
    # Given scores walking from the 0.85 boundary up to 1.0, Then confidence never decreases
    values = [confidence(0.85 + step / 100, SPEC) for step in range(1, 16)]
    assert values == sorted(values)
    assert all(0.5 <= value <= 1.0 for value in values)


def test_given_contributions_when_top_features_then_largest_positive_pushes_with_values() -> None:
    # Given contributions for four features and a bias (last)
    names = ("a", "b", "c", "d")
    contributions = [0.2, -1.5, 0.9, 0.4, -3.0]
    values = {"a": 1.0, "b": 2.0, "c": None, "d": 4.0}
    # When the top features are taken
    top = top_features(contributions, names, values)
    # Then they are the positive pushes, largest first, with their values (None = missing), bias excluded
    assert list(top) == ["c", "d", "a"]
    assert top == {"c": None, "d": 4.0, "a": 1.0}


def test_given_only_negative_contributions_when_top_features_then_none_named() -> None:
    assert top_features([-0.1, -0.2, 5.0], ("a", "b"), {"a": 1.0, "b": 2.0}) == {}


def test_given_request_budget_when_spent_then_dependency_unavailable_and_pool_wait_capped() -> None:
    import time

    from shared.config import Settings
    from shared.errors import DependencyUnavailable
    from shared.scoring.session import Budget as _Budget

    settings = Settings(request_timeout_s=5.0, db_connect_timeout_s=3.0)
    # Given a request that started 4 s ago, Then the pool may wait only the ~1 s left
    assert 0 < _Budget(time.perf_counter() - 4.0, settings).pool_timeout("x") <= 1.0
    # Given a fresh request, Then the pool waits at most its own timeout
    assert _Budget(time.perf_counter(), settings).pool_timeout("x") == 3.0
    # Given a request past its budget, Then the next PostgreSQL step is refused
    with pytest.raises(DependencyUnavailable):
        _Budget(time.perf_counter() - 6.0, settings).pool_timeout("storing the decision")


@dataclass
class _FixedModel:
    """A model that scores every purchase `score` and names one feature."""

    score: float
    version: str = "v-test"
    feature_names: tuple[str, ...] = ("resale_cycle_length", "wallet_age_days", "txn_velocity_1h")

    def predict(self, values: object) -> float:
        return self.score

    def contributions(self, values: object) -> list[float]:
        return [0.0, 0.0, 0.0, 0.0]


def _decided(score: float, cycle: float | None, **values: float | None) -> PredictResponse:
    scoring = Scoring(
        model=_FixedModel(score),
        shadow=None,
        features=FeatureResult(
            values={"resale_cycle_length": cycle, "wallet_age_days": 400.0, "txn_velocity_1h": 0.0, **values}
        ),
        thresholds=SPEC,
        cut=None,
    )
    made = verdict("t-1", blocked_by=None, scoring=scoring, served_version="v-test", degraded=False, at=_AT)
    return made.response


@pytest.mark.parametrize("cycle", [2.0, 3.0, 4.0])
def test_given_a_closed_resale_cycle_when_the_model_approves_then_the_rule_lifts_it_to_manual_review(
    cycle: float,
) -> None:
    # Given a purchase closing a resale cycle that the model scores low
    # When it is decided
    response = _decided(0.05, cycle)
    # Then its score is the middle of MANUAL_REVIEW (0.65 + 0.85) / 2, the rule named
    assert response.fraud_score == 0.75
    assert response.decision is Decision.MANUAL_REVIEW
    assert response.rules == [RESALE_CYCLE]


def test_given_a_closed_resale_cycle_when_the_model_scores_higher_than_the_floor_then_its_score_stands() -> (
    None
):
    # Given a cycle the model already blocks, When it is decided, Then the model's score stands
    response = _decided(0.93, 3.0)
    assert response.fraud_score == 0.93
    assert response.decision is Decision.BLOCKED
    assert response.rules == [RESALE_CYCLE]


@pytest.mark.parametrize("cycle", [0.0, None])
def test_given_no_resale_cycle_when_decided_then_no_rule_moves_the_score(cycle: float | None) -> None:
    # Given a purchase with no cycle (or the feature unknown), When decided, Then the model's score stands
    response = _decided(0.05, cycle)
    assert (response.fraud_score, response.decision, response.rules) == (0.05, Decision.APPROVED, [])


def test_the_rule_floor_follows_the_configured_thresholds() -> None:
    # Given other thresholds, When a cycle is ruled, Then the floor is the middle of their review band
    score, held = ruled_score(
        0.1, {"resale_cycle_length": 2.0}, Thresholds(two_factor=0.2, review=0.5, block=0.9)
    )
    assert (score, held) == (0.7, [RESALE_CYCLE])


@pytest.mark.parametrize(("age", "velocity"), [(0.04, 1.0), (1.99, 5.0), (0.0, 2.0)])
def test_given_a_new_wallet_buying_again_within_the_hour_then_the_rule_asks_for_2fa(
    age: float, velocity: float
) -> None:
    # Given a wallet under two days old with another purchase in the last hour, scored low by the model
    # When it is decided
    response = _decided(0.1, 0.0, wallet_age_days=age, txn_velocity_1h=velocity)
    # Then its score is the middle of REQUIRE_2FA, (0.40 + 0.65) / 2, the rule named
    assert response.fraud_score == 0.525
    assert response.decision is Decision.REQUIRE_2FA
    assert response.rules == [NEW_WALLET_BURST]


@pytest.mark.parametrize(
    ("age", "velocity"), [(NEW_WALLET_DAYS, 3.0), (0.5, 0.0), (0.5, None), (None, 3.0), (30.0, 8.0)]
)
def test_given_an_older_wallet_or_a_first_purchase_then_the_burst_rule_holds_back(
    age: float | None, velocity: float | None
) -> None:
    # Given a wallet two days old or more, or a new one's first purchase of the hour (or either unknown)
    # When decided, Then the model's score stands
    response = _decided(0.1, 0.0, wallet_age_days=age, txn_velocity_1h=velocity)
    assert (response.fraud_score, response.rules) == (0.1, [])


def test_given_both_rules_then_the_higher_floor_wins_and_both_are_named() -> None:
    # Given a new wallet bursting that also closes a resale cycle, When decided
    response = _decided(0.1, 3.0, wallet_age_days=0.5, txn_velocity_1h=2.0)
    # Then the score is MANUAL_REVIEW's middle and both rules are named, in order
    assert (response.fraud_score, response.decision) == (0.75, Decision.MANUAL_REVIEW)
    assert response.rules == [RESALE_CYCLE, NEW_WALLET_BURST]


def test_a_rule_floor_is_only_an_inner_band() -> None:
    # Given the bands, Then only REQUIRE_2FA and MANUAL_REVIEW have a middle a rule can raise a score to
    assert band_middle(Decision.REQUIRE_2FA, SPEC) == 0.525
    with pytest.raises(ValueError, match="REQUIRE_2FA or MANUAL_REVIEW"):
        band_middle(Decision.BLOCKED, SPEC)


def test_the_api_document_names_exactly_the_rules_the_service_applies() -> None:
    # Given the API document's PredictResponse, When its `rules` enum is read
    schema = load_openapi()["components"]["schemas"]["PredictResponse"]["properties"]["rules"]
    # Then it names every rule of shared.scoring.rules and no other (a new rule documented, a gone one removed)
    assert schema["items"]["enum"] == [rule.name for rule in RULES]

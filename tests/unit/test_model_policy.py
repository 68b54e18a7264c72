"""Given the policy calibration (probability -> the client's fraud_score), the map is monotone, keeps the
spec's thresholds on the score, is fitted at the asked false-positive rates, and old manifests still load."""

from __future__ import annotations

import json
import math
from itertools import pairwise
from pathlib import Path

import pytest

from shared.errors import ModelIntegrityError
from shared.model.manifest import read_manifest
from shared.model.policy import IDENTITY, LegitRows, PolicyCalibration, PolicyError, cut_at_rate, fit_policy

BANDS = [(0.40, 0.018), (0.65, 0.005), (0.85, 0.001)]


def _legit(n: int = 10_000) -> list[float]:
    # A deterministic spread of legitimate probabilities, mostly tiny, a thin tail
    return [(i / n) ** 6 for i in range(n)]


def test_the_fitted_map_puts_each_band_at_its_false_positive_rate() -> None:
    # Given validation legitimate probabilities
    legit = _legit()
    # When the policy is fitted for the spec's bands
    policy = fit_policy(legit, BANDS)
    # Then the share of legitimate rows at or above each band is the asked rate (at most, to the row)
    for threshold, rate in BANDS:
        share = sum(policy.apply(p) >= threshold for p in legit) / len(legit)
        assert rate - 1 / len(legit) <= share <= rate
    # And the thresholds stay on the score: knots (0,0), (., 0.40), (., 0.65), (., 0.85), (1,1)
    assert [s for _, s in policy.knots] == [0.0, 0.40, 0.65, 0.85, 1.0]


@pytest.mark.parametrize("rate", [0.0185, 0.0187, 0.0183])
def test_given_a_rate_times_n_that_is_not_whole_when_fitted_then_at_most_its_floor_is_flagged(
    rate: float,
) -> None:
    # Given 1,000 distinct legitimate probabilities and rates where rate x n is not whole (18.5, 18.7,
    # 18.3 rows): the budget is a count of rows, and a part of a row is not allowed
    legit = _legit(1_000)
    bands = [(0.40, rate), (0.65, rate / 3), (0.85, rate / 9)]
    # When the policy is fitted
    policy = fit_policy(legit, bands)
    # Then each band flags exactly floor(rate x n) legitimate rows, never one more
    for threshold, band_rate in bands:
        flagged = sum(policy.apply(p) >= threshold for p in legit)
        assert flagged == math.floor(band_rate * len(legit)), (threshold, band_rate)


def test_the_map_is_strictly_increasing_and_inverts_at_the_bands() -> None:
    policy = fit_policy(_legit(), BANDS)
    grid = [i / 1000 for i in range(1001)]
    scores = [policy.apply(p) for p in grid]
    assert scores[0] == 0.0 and scores[-1] == 1.0
    assert all(b > a for a, b in pairwise(scores))
    for threshold, _ in BANDS:
        assert policy.apply(policy.probability_at(threshold)) == pytest.approx(threshold, abs=1e-12)


def test_ties_and_tiny_samples_still_give_a_valid_map() -> None:
    # Given every legitimate row at the same probability (nothing tells the rates apart)
    policy = fit_policy([0.2] * 50, BANDS)
    # Then the cuts sit just above it, still strictly increasing, and no legitimate row is flagged
    cuts = [p for p, _ in policy.knots[1:-1]]
    assert all(c > 0.2 for c in cuts) and cuts == sorted(set(cuts))
    assert policy.apply(0.2) < 0.40
    assert cut_at_rate([0.9, 0.5, 0.1], 0.34) == pytest.approx(0.7)  # one of three may be flagged


def test_a_bad_calibration_is_refused() -> None:
    with pytest.raises(PolicyError):
        PolicyCalibration(((0.0, 0.0), (0.5, 0.4), (0.4, 0.65), (1.0, 1.0)))
    with pytest.raises(PolicyError):
        PolicyCalibration.from_json({"kind": "isotonic", "knots": []})


def _manifest(directory: Path, **extra: object) -> Path:
    raw = {
        "schema": 1,
        "version": "vpolicy",
        "feature_names": ["a", "b"],
        "thresholds": {"two_factor": 0.4, "review": 0.65, "block": 0.85},
        "libraries": {},
        "files": {},
        **extra,
    }
    (directory / "manifest.json").write_text(json.dumps(raw))
    return directory


def test_a_manifest_carries_its_policy_and_an_old_one_scores_its_probability(tmp_path: Path) -> None:
    # Given a manifest written before the policy existed: the score is the probability
    assert read_manifest(_manifest(tmp_path)).policy == IDENTITY
    assert IDENTITY.apply(0.37) == 0.37
    # Given one with a fitted policy: it round-trips through JSON
    policy = fit_policy(_legit(2000), BANDS, fitted_on="validation")
    loaded = read_manifest(_manifest(tmp_path, policy_calibration=policy.as_json())).policy
    assert loaded.knots == policy.knots and loaded.details["fitted_on"] == "validation"
    # A malformed one never loads
    flat = {"kind": "piecewise_linear", "knots": [[0, 0], [0.5, 0.5], [0.6, 0.5], [1, 1]]}
    with pytest.raises(ModelIntegrityError, match="strictly increase"):
        read_manifest(_manifest(tmp_path, policy_calibration=flat))


def test_given_several_worlds_each_band_starts_where_its_rate_holds_on_every_one() -> None:
    # Given validation and a second world whose legitimate purchases score higher (its tail shifted up)
    validation = _legit()
    harder = [p**0.8 for p in _legit(6_000)]
    sets = {"validation": LegitRows(validation), "harder world": LegitRows(harder)}
    # When the policy is fitted on both
    policy = fit_policy(sets, BANDS)
    # Then no band flags more than its rate of either world's legitimate purchases
    for threshold, rate in BANDS:
        for rows in (validation, harder):
            assert sum(policy.apply(p) >= threshold for p in rows) <= int(rate * len(rows) + 1e-9)
    # And the harder world set the cuts, as the details say; on validation alone they would be lower
    alone = fit_policy(validation, BANDS)
    assert [b["bound_by"] for b in policy.details["bands"]] == ["harder world"] * 3
    assert all(p > q for (p, _), (q, _) in zip(policy.knots[1:-1], alone.knots[1:-1], strict=True))
    assert policy.details["legit_rows_by_set"] == {"validation": 10_000, "harder world": 6_000}


def test_given_rows_a_rule_already_flags_they_spend_the_band_budget_first() -> None:
    # Given 1,000 legitimate purchases, 5 of which a scoring rule raises to the middle of REQUIRE_2FA
    # (floor 0.525) whatever their probability: they are the lowest-scored ones
    legit = _legit(1_000)
    floors = [0.525 if i < 5 else 0.0 for i in range(len(legit))]
    # When REQUIRE_2FA is fitted at 1.8% (18 rows) with the floors counted
    policy = fit_policy({"validation": LegitRows(legit, floors)}, [(0.40, 0.018)])
    # Then the model may flag only 13 more: 18 in all once the rule's 5 are added
    by_model = sum(policy.apply(p) >= 0.40 for p in legit)
    assert by_model == 13
    # And a floor under the band takes nothing from it
    unchanged = fit_policy({"validation": LegitRows(legit, [0.3] * len(legit))}, [(0.40, 0.018)])
    assert unchanged.knots == fit_policy(legit, [(0.40, 0.018)]).knots

"""The scoring path's one policy for the model (shared/scoring/models.py): which model decides, and
the version a response without a score names."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from shared.errors import ConfigurationError, ModelIntegrityError, ModelUnavailable
from shared.model.rollout import Candidate, routed_to_candidate
from shared.scoring.models import NO_MODEL_VERSION, RECHECK_S, ServedModels


@dataclass
class FakeModel:
    version: str
    feature_names: tuple[str, ...] = ("a",)

    def predict(self, values: object) -> float:
        return 0.5

    def contributions(self, values: object) -> list[float]:
        return [0.0, 0.0]


@dataclass
class Loader:
    """A model source that answers `model` or raises `error`, its calls counted."""

    model: FakeModel | None = None
    error: Exception | None = None
    calls: list[float] = field(default_factory=list)

    def __call__(self) -> FakeModel:
        self.calls.append(0.0)
        if self.error is not None:
            raise self.error
        assert self.model is not None
        return self.model


@pytest.mark.parametrize(
    "error", [ConfigurationError("no CURRENT"), ModelIntegrityError("bad hash")], ids=["missing", "broken"]
)
def test_given_no_loadable_model_when_a_version_is_asked_then_none_and_scoring_refuses(
    error: Exception,
) -> None:
    # Given a model source that fails
    models = ServedModels(load=Loader(error=error), trial=lambda: None)
    # When a response without a score asks the version, Then it reads "none" and nothing raises
    assert models.version() == NO_MODEL_VERSION
    # And a purchase to score is refused: 503 for a missing model, the integrity error as it is
    expected = ModelUnavailable if isinstance(error, ConfigurationError) else ModelIntegrityError
    with pytest.raises(expected):
        models.choose("t-1")


def test_given_many_requests_within_a_second_then_the_served_model_is_loaded_once_for_all_of_them() -> None:
    # Given a loader and a clock the test moves
    loader = Loader(model=FakeModel("v1"))
    now = [10.0]
    models = ServedModels(load=loader, trial=lambda: None, clock=lambda: now[0])
    # When the version and the choice are asked several times within RECHECK_S
    assert [models.version(), models.choose("t").model.version, models.version()] == ["v1"] * 3
    # Then one load served all of them; the next second loads again (a new CURRENT is picked up)
    assert len(loader.calls) == 1
    now[0] += RECHECK_S
    models.version()
    assert len(loader.calls) == 2


def test_given_a_candidate_when_chosen_then_a_canary_decides_its_share_and_a_shadow_rides_along() -> None:
    served, trial = FakeModel("v1"), FakeModel("v2")
    # Given a canary of half the traffic
    canary = ServedModels(load=lambda: served, trial=lambda: Candidate(trial, "canary", 0.5))
    ids = [f"t-{i}" for i in range(40)]
    # Then the candidate decides exactly the purchases its hash routes to it, with no shadow
    chosen = {txn: canary.choose(txn) for txn in ids}
    assert {txn: c.model.version for txn, c in chosen.items()} == {
        txn: "v2" if routed_to_candidate(txn, 0.5) else "v1" for txn in ids
    }
    assert all(c.shadow is None for c in chosen.values())
    # Given the candidate in shadow, Then the served model decides and the candidate rides along
    shadow = ServedModels(load=lambda: served, trial=lambda: Candidate(trial, "shadow", 0.0))
    assert shadow.choose("t-1").model is served and shadow.choose("t-1").shadow is trial

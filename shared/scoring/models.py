"""Which model decides a purchase, and the one policy for the served version.

- `choose(transaction_id)`: the served model, or the candidate for a canary's share of the purchases
  (shared.model.rollout); a shadow candidate rides along to be scored after the decision is stored.
  No model -> ModelUnavailable (503); a model that fails its checks -> ModelIntegrityError.
- `version()`: what a response without a score (blocklisted, fail-open) names: the served version
  when it loads, else "none"; it never fails a request that needs no model.

load_model() re-resolves the model directory (stat calls and a read of model_artifacts/CURRENT) on
every call, so that a new CURRENT is picked up; once a second is enough for that, not once per
request (on Lambda the directory, /opt/model, never changes). The candidate is asked as often.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shared.errors import ConfigurationError, ModelIntegrityError, ModelUnavailable
from shared.model import load_model
from shared.model.rollout import Candidate, candidate
from shared.scoring.ports import ModelChoice, ScoringModel

NO_MODEL_VERSION = "none"
RECHECK_S = 1.0


class ServedModels:
    """The real `ModelSource`: the served model and the candidate, each re-read at most every RECHECK_S."""

    def __init__(
        self,
        load: Callable[[], ScoringModel] = load_model,
        trial: Callable[[], Candidate | None] = candidate,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._trial = trial
        self._clock = clock
        self._served: tuple[float, ScoringModel] | None = None
        self._candidate: tuple[float, Candidate | None] | None = None

    def served(self) -> ScoringModel:
        now = self._clock()
        if self._served is not None and now - self._served[0] < RECHECK_S:
            return self._served[1]
        try:
            model = self._load()
        except ModelIntegrityError:
            raise
        except ConfigurationError as exc:
            raise ModelUnavailable(f"no model is loaded: {exc.message}") from exc
        self._served = (now, model)
        return model

    def candidate(self) -> Candidate | None:
        now = self._clock()
        if self._candidate is None or now - self._candidate[0] >= RECHECK_S:
            self._candidate = (now, self._trial())
        return self._candidate[1]

    def choose(self, transaction_id: str) -> ModelChoice:
        served = self.served()
        trial = self.candidate()
        if trial is None:
            return ModelChoice(served)
        if trial.decides(transaction_id):
            return ModelChoice(trial.model)  # a canary's share of the purchases
        return ModelChoice(served, shadow=trial.model if trial.mode == "shadow" else None)

    def version(self) -> str:
        try:
            return self.served().version
        except (ModelUnavailable, ModelIntegrityError):
            return NO_MODEL_VERSION

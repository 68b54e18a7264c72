"""The scoring path's side of a model rollout (shared.model.rollout): which model decides a purchase,
and the candidate's shadow score stored beside the served decision.

- canary: the candidate decides the purchases its hash share routes to it (`Candidate.decides`); the
  stored prediction and the response name its version, so its quality is measured like any version's;
- shadow: the served model decides; the candidate scores the same features and its score and would-be
  decision go to intel.model_shadow_scores, after the decision is stored. A failure there is logged and
  never reaches the purchase (the shadow decides nothing, so it may not fail anything either).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from psycopg_pool import ConnectionPool

from shared.config import Thresholds
from shared.observability import logger
from shared.scoring import telemetry
from shared.scoring.decision import decide

MEMO_S = 1.0


class CandidateMemo:
    """The candidate source, asked at most once a second (it stats or reads the registry's files)."""

    def __init__(self, source: Callable[[], Any], clock: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._clock = clock
        self._memo: tuple[float, Any] | None = None

    def __call__(self) -> Any:
        now = self._clock()
        if self._memo is None or now - self._memo[0] >= MEMO_S:
            self._memo = (now, self._source())
        return self._memo[1]


def model_score(model: Any, values: Mapping[str, float | None]) -> float:
    """The model's score of these feature values, as the client sees it (rounded once, in [0, 1])."""
    vector = [values.get(name) for name in model.feature_names]
    return round(min(1.0, max(0.0, float(model.predict(vector)))), 6)


def store_shadow(
    pool: ConnectionPool,
    model: Any,
    *,
    transaction_id: str,
    values: Mapping[str, float | None],
    served_version: str,
    thresholds: Thresholds,
    at: datetime,
    timeout_s: Callable[[], float],
) -> None:
    """Score with the shadow candidate and store it, within what is left of the request's budget
    (`timeout_s()`, which raises when nothing is); never raises."""
    try:
        score = model_score(model, values)
        with pool.connection(timeout=timeout_s()) as conn:
            conn.execute(
                """INSERT INTO intel.model_shadow_scores
                       (transaction_id, model_version, served_version, fraud_score, decision, created_at)
                   SELECT %s, %s, %s, %s, %s, %s
                     FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
                   ON CONFLICT (transaction_id, model_version) DO NOTHING""",
                (transaction_id, model.version, served_version, score, decide(score, thresholds).value, at),
            )
    except Exception as exc:
        telemetry.record_count("ShadowScoringFailed")
        logger.warning(
            "shadow score not stored",
            extra={"transaction_id": transaction_id, "error": f"{type(exc).__name__}: {exc}"},
        )

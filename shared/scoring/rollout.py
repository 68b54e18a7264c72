"""The scoring path's side of a model rollout (shared.model.rollout); which model decides a purchase is
shared.scoring.models' choice, this stores a shadow candidate's score beside the served decision.

- canary: the candidate decides the purchases its hash share routes to it (`Candidate.decides`); the
  stored prediction and the response name its version, so its quality is measured like any version's;
- shadow: the served model decides; the candidate scores the same features and its score and would-be
  decision go to intel.model_shadow_scores, after the decision is stored. A failure there is logged and
  never reaches the purchase (the shadow decides nothing, so it may not fail anything either).
"""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from shared.observability import logger
from shared.scoring import telemetry
from shared.scoring.decision import ShadowScore
from shared.scoring.session import Attempt


def store_shadow(
    attempt: Attempt, pool: ConnectionPool, served_version: str, shadow: ShadowScore | None
) -> None:
    """Store a shadow candidate's score (shared.scoring.decision scored it) beside the served decision,
    within what is left of the request's budget; never raises."""
    if shadow is None:
        return
    transaction_id = attempt.request.transaction_id
    try:
        timeout_s = attempt.budget.pool_timeout("storing the shadow score")
        with pool.connection(timeout=timeout_s) as conn:
            conn.execute(
                """INSERT INTO intel.model_shadow_scores
                       (transaction_id, model_version, served_version, fraud_score, decision, created_at)
                   SELECT %s, %s, %s, %s, %s, %s
                     FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
                   ON CONFLICT (transaction_id, model_version) DO NOTHING""",
                (
                    transaction_id,
                    shadow.version,
                    served_version,
                    shadow.score,
                    shadow.decision.value,
                    attempt.now,
                ),
            )
    except Exception as exc:
        telemetry.record_count("ShadowScoringFailed")
        logger.warning(
            "shadow score not stored",
            extra={"transaction_id": transaction_id, "error": f"{type(exc).__name__}: {exc}"},
        )

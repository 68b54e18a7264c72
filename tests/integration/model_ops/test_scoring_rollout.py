"""The scoring path with a candidate beside the served model (shared/scoring/rollout.py): in shadow it
is scored and stored, deciding nothing; as a canary it decides its hash share of the purchases."""

from __future__ import annotations

from pathlib import Path

import psycopg

from shared.api.models import PredictRequest
from shared.model import rollout
from shared.scoring.service import score_transaction
from tests.fixtures.api import Market, reset_api_state
from tests.integration.model_ops.conftest import CANDIDATE, SERVED

N = 12


def _score_many(market: Market, prefix: str) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(N)]
    for i, txn in enumerate(ids):
        request = PredictRequest(
            transaction_id=txn,
            wallet_address=f"0x{i + 1:040x}",
            ticket_id=market.ticket_ids[0],
            price_paid=80.0,
        )
        score_transaction(request, client_ip=f"198.51.100.{i + 1}")
    return ids


def test_given_a_candidate_in_shadow_when_purchases_are_scored_then_it_is_stored_beside_and_decides_nothing(
    db: psycopg.Connection, redis_url: str, api_market: Market, api_state: None, two_versions: Path
) -> None:
    # Given vtest.2 in shadow beside vtest.1
    rollout.start_candidate(rollout.LocalStore(two_versions), CANDIDATE, "shadow", by="test", reason="r")
    reset_api_state()
    # When purchases are scored
    ids = _score_many(api_market, "sh")
    # Then every decision is the served version's, and each has the candidate's score beside it
    versions = db.execute("SELECT DISTINCT model_version FROM intel.fraud_predictions").fetchall()
    assert versions == [(SERVED,)]
    shadow = db.execute(
        """SELECT s.transaction_id, s.served_version, s.fraud_score = p.fraud_score, s.decision = p.decision
             FROM intel.model_shadow_scores s JOIN intel.fraud_predictions p USING (transaction_id)
            WHERE s.model_version = %s ORDER BY 1""",
        (CANDIDATE,),
    ).fetchall()
    assert [row[0] for row in shadow] == sorted(ids)
    assert all(row[1:] == (SERVED, True, True) for row in shadow)  # the same model under two names


def test_given_a_canary_when_purchases_are_scored_then_it_decides_exactly_its_hash_share(
    db: psycopg.Connection, redis_url: str, api_market: Market, api_state: None, two_versions: Path
) -> None:
    # Given vtest.2 as a canary of half the traffic
    rollout.start_candidate(
        rollout.LocalStore(two_versions), CANDIDATE, "canary", weight=0.5, by="test", reason="r"
    )
    reset_api_state()
    # When purchases are scored
    ids = _score_many(api_market, "ca")
    # Then the canary decided the ids its hash routes to it, the served model the others; no shadow rows
    stored = dict(db.execute("SELECT transaction_id, model_version FROM intel.fraud_predictions").fetchall())
    expected = {txn: CANDIDATE if rollout.routed_to_candidate(txn, 0.5) else SERVED for txn in ids}
    assert stored == expected and len(set(expected.values())) == 2
    assert db.execute("SELECT count(*) FROM intel.model_shadow_scores").fetchone() == (0,)


def test_given_the_candidate_rolled_back_when_scored_then_only_the_served_model_runs(
    db: psycopg.Connection, redis_url: str, api_market: Market, api_state: None, two_versions: Path
) -> None:
    store = rollout.LocalStore(two_versions)
    rollout.start_candidate(store, CANDIDATE, "shadow", by="test", reason="r")
    rollout.rollback(store, by="test", reason="r")
    reset_api_state()
    _score_many(api_market, "rb")
    assert db.execute("SELECT count(*) FROM intel.model_shadow_scores").fetchone() == (0,)

"""A retried scoring request is answered from the stored decision: the model does not run again.

The insert of a prediction is itself idempotent (ON CONFLICT returns the stored row), so a retry that
scored again would still answer the stored decision, flagged as replayed: the response alone cannot
tell whether the model ran twice. These tests count the model's calls."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
import pytest

from shared.api.models import PredictRequest
from shared.model import load_model
from shared.scoring.models import ServedModels
from shared.scoring.ports import LiveStores, ScoringDeps
from shared.scoring.service import default_deps, score_transaction
from tests.fixtures.api import Market

CLIENT_IP = "203.0.113.51"


@dataclass
class CountingModel:
    """The real model, its calls counted."""

    model: Any
    calls: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return str(self.model.version)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.model.feature_names)

    def predict(self, values: Any) -> float:
        self.calls.append("predict")
        return float(self.model.predict(values))

    def contributions(self, values: Any) -> list[float]:
        self.calls.append("contributions")
        return list(self.model.contributions(values))


class RedisDown(LiveStores):
    """PostgreSQL as the process has it, and no Redis."""

    def redis(self) -> None:
        return None


@pytest.fixture
def counted(
    db: psycopg.Connection, redis_url: str, api_market: Market, api_state: None
) -> tuple[ScoringDeps, CountingModel]:
    model = CountingModel(load_model())
    deps = replace(default_deps(), models=ServedModels(load=lambda: model))
    return deps, model


def _request(market: Market, txn: str) -> PredictRequest:
    return PredictRequest(
        transaction_id=txn,
        wallet_address=market.honest_wallet,
        ticket_id=market.ticket_ids[0],
        price_paid=80.0,
    )


def test_given_a_scored_purchase_when_retried_then_the_model_does_not_run_again(
    counted: tuple[ScoringDeps, CountingModel], api_market: Market, db: psycopg.Connection
) -> None:
    deps, model = counted
    # Given a purchase scored once: the model ran once
    first = score_transaction(_request(api_market, "t-once"), client_ip=CLIENT_IP, deps=deps)
    assert model.calls == ["predict", "contributions"]
    # When the marketplace retries it, twice
    retries = [
        score_transaction(_request(api_market, "t-once"), client_ip=CLIENT_IP, deps=deps) for _ in range(2)
    ]
    # Then the stored decision came back each time, and the model was not asked again
    assert model.calls == ["predict", "contributions"]
    for again in retries:
        assert again.replayed and (again.fraud_score, again.decision) == (first.fraud_score, first.decision)
    assert db.execute(
        "SELECT count(*) FROM intel.fraud_predictions WHERE transaction_id = 't-once'"
    ).fetchone() == (1,)


def test_given_a_stored_decision_when_redis_is_down_for_the_retry_then_still_no_second_run(
    counted: tuple[ScoringDeps, CountingModel], api_market: Market
) -> None:
    deps, model = counted
    score_transaction(_request(api_market, "t-once-degraded"), client_ip=CLIENT_IP, deps=deps)
    # When the retry comes while Redis is unreachable (PostgreSQL alone serves the lookup)
    deps.stores = RedisDown()
    again = score_transaction(_request(api_market, "t-once-degraded"), client_ip=CLIENT_IP, deps=deps)
    # Then it is the stored decision, and the model ran for the first request only
    assert again.replayed
    assert model.calls.count("predict") == 1


def test_a_replay_is_answered_from_the_columns_the_stored_prediction_is_read_with_everywhere(
    db: psycopg.Connection, api_market: Market, counted: tuple[ScoringDeps, CountingModel]
) -> None:
    from shared.scoring.lookup import LOOKUP_SQL
    from shared.scoring.predictions import PREDICTION_COLUMNS

    # Given a scored purchase
    deps, _ = counted
    score_transaction(_request(api_market, "t-columns"), client_ip=CLIENT_IP, deps=deps)

    # When admission's lookup (a function of migration 0711) reads it back, asking for nothing else
    row = db.execute(
        LOOKUP_SQL,
        {
            "txn": "t-columns",
            "wallet": None,
            "ip": None,
            "need_user": False,
            "need_wallet_bl": False,
            "need_ip_bl": False,
        },
    ).fetchone()

    # Then the stored prediction has exactly the columns the race's loser reads (PREDICTION_COLUMNS)
    assert row is not None and row[1:] == (None, None, None)
    assert list(row[0]) == [name.strip() for name in PREDICTION_COLUMNS.split(",")]

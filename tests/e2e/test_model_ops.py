"""Issue 17, done when: locally, a drift-injected day triggers a retraining, the candidate runs in shadow,
a deliberately worse model is rolled back without a person, and precision/recall appear in the metrics
API. Through the local gateway (HTTP, the real handlers) and the model-ops job as the local timers run
it (functions/model_ops/handler.py with a scheduled event); the retraining is the local pipeline
(export -> `ticketguard train` in a child process -> publish to shadow), here on a poisoned training
set: the real frauds labelled legitimate and as many legitimate rows, at random, labelled fraud (the
fraud rate unchanged, so the gate's data screening passes it; the gate compares on that same poisoned
data, so it lets the candidate through): only its decisions against the real labels show it is worse."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from shared.api.usage_plans import local_api_key
from shared.config import get_settings
from shared.model import clear_model_cache, rollout
from tests.fixtures.api import Market
from tests.fixtures.drift import live_vectors, store_predictions, younger_wallets
from tests.integration.model_ops.conftest import SERVED, copy_version
from tooling.local.schedules import JOBS, run_job

PURCHASES = 24


@pytest.fixture
def served_registry(tmp_path: Path, trained_registry: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry directory serving the session's tiny model; the local retraining trains into it on a
    training set with inverted labels; the watchdog judges on a few labels."""
    from training.synthetic import synthetic_transactions

    root = tmp_path / "registry"
    root.mkdir()
    copy_version(root, trained_registry / SERVED, SERVED)
    (root / "CURRENT").write_text(SERVED + "\n")
    poisoned = synthetic_transactions(3000, seed=5)
    frauds = poisoned["is_fraud"].astype(int)
    decoys = poisoned.index[frauds == 0].to_series().sample(int(frauds.sum()), random_state=5)
    poisoned["is_fraud"] = 0
    poisoned.loc[decoys, "is_fraud"] = 1
    poisoned.to_csv(tmp_path / "poisoned.csv", index=False)
    monkeypatch.setenv("TG_MODEL_DIR", str(root))
    monkeypatch.setenv("TG_LOCAL_RETRAIN_TRAINING_SET", str(tmp_path / "poisoned.csv"))
    monkeypatch.setenv("TG_MODEL_OPS_WATCHDOG_MIN_FRAUDS", str(PURCHASES // 2))
    monkeypatch.setenv("TG_MODEL_OPS_WATCHDOG_MIN_LEGIT", "1000")  # judged on detection here
    monkeypatch.setenv("TG_RATELIMIT_PURCHASE_PER_MINUTE", "100")  # a scalper's burst, not refused here
    get_settings.cache_clear()
    clear_model_cache()
    yield root
    clear_model_cache()


def model_ops_job() -> bool:
    [job] = [job for job in JOBS if job.name == "model-ops"]
    return run_job(job)


def test_given_a_drifted_day_then_retrained_shadowed_rolled_back_and_measured(
    gateway_url: str, db: psycopg.Connection, api_market: Market, served_registry: Path
) -> None:
    from tooling.local.retrain import wait_for_runs

    store = rollout.LocalStore(served_registry)
    # Given a day of purchases whose wallets are a tenth of the age the model trained on
    store_predictions(
        db, live_vectors(400, seed=11, shift=younger_wallets), at=datetime.now(UTC), model_version=SERVED
    )
    # When the model-ops job runs on the local timers' path
    assert model_ops_job()
    wait_for_runs()
    # Then it started a drift retraining, whose candidate passed the gate and runs in shadow
    log = db.execute("SELECT action, reason, detail FROM intel.model_ops_log ORDER BY entry_id").fetchall()
    assert [(action, reason) for action, reason, _ in log] == [
        ("retrain_started", "drift"),
        ("retrain_outcome", "drift"),
    ]
    outcome = log[1][2]
    assert outcome["status"] == "shadow", outcome
    candidate = outcome["version"]
    state = store.rollout()
    assert (state.candidate, state.mode, store.current()) == (candidate, "shadow", SERVED)

    # When the marketplace's purchases are scored over HTTP: fresh wallets buying in bursts at twice the
    # face value (what the served model learned to suspect)
    with httpx.Client(base_url=gateway_url, headers={"x-api-key": local_api_key()}, timeout=30) as client:
        for i in range(PURCHASES):
            response = client.post(
                "/api/v1/ml/predict/fraud",
                json={
                    "transaction_id": f"e2e-mo-{i}",
                    "wallet_address": f"0x{i // 4 + 1:040x}",  # bursts of four purchases per wallet
                    "ticket_id": api_market.ticket_ids[i % len(api_market.ticket_ids)],
                    "price_paid": 2 * api_market.face_value,
                    "buyer_ip": f"198.51.100.{i + 1}",
                },
            )
            assert response.status_code == 200, response.text
            # Then the served version decides every one of them
            assert response.json()["model_version"] == SERVED
    shadow = dict(
        db.execute(
            "SELECT decision, count(*) FROM intel.model_shadow_scores WHERE model_version = %s GROUP BY 1",
            (candidate,),
        ).fetchall()
    )
    assert sum(shadow.values()) == PURCHASES
    # And they turn out to be fraud (labels arrive: fresh wallets, as the served model suspected)
    db.execute(
        """INSERT INTO intel.fraud_labels (transaction_id, is_fraud, source, labelled_at)
           SELECT transaction_id, true, 'ban', now() - interval '1 minute'
             FROM intel.fraud_predictions WHERE transaction_id LIKE 'e2e-mo-%'"""
    )
    # When the job runs again (its time is its event's, to the second, as EventBridge's: let that second
    # end, so that it covers every purchase above)
    time.sleep(1.1)
    assert model_ops_job()
    # Then the watchdog rolled the candidate back, without a person; the served version never changed
    state = store.rollout()
    assert state.candidate is None and store.current() == SERVED
    assert (state.history[-1]["action"], state.history[-1]["by"], state.history[-1]["version"]) == (
        "rollback",
        "watchdog",
        candidate,
    )
    assert state.history[-1]["reason"].startswith("detection ")

    # And the metrics API gives each version's precision and recall over the window
    now = datetime.now(UTC)
    response = httpx.get(
        gateway_url + "/api/v1/metrics",
        params={
            "start": (now - timedelta(hours=2)).isoformat(),
            "end": (now + timedelta(minutes=1)).isoformat(),
        },
        headers={"x-api-key": local_api_key("dashboard")},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    versions = {(v["model_version"], v["role"]): v for v in response.json()["model_quality"]["versions"]}
    served, shadowed = versions[(SERVED, "served")], versions[(candidate, "shadow")]
    assert {"precision", "recall", "detection_rate", "false_positive_rate", "confusion"} <= set(served)
    assert shadowed["labelled_frauds"] == PURCHASES and served["labelled_frauds"] == PURCHASES
    assert served["recall"] is not None and shadowed["recall"] is not None
    assert shadowed["detection_rate"] < served["detection_rate"]

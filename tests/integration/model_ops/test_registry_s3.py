"""The rollout in the S3 registry (moto): the publish step starts a promoted candidate in shadow, the
functions' ServedModel fetches and serves it beside CURRENT, and `ticketguard model rollback` ends it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.config import get_settings
from shared.jobs.retrain import publish_step
from shared.model import clear_model_cache, rollout
from shared.model.remote import ServedModel, read_pointer, write_pointer
from tests.integration.ml.s3_registry import BUCKET, REGISTRY, archive_bucket
from tests.integration.model_ops.conftest import CANDIDATE, SERVED
from tooling.cli import main as ticketguard


@pytest.fixture
def s3(two_versions: Path) -> Iterator[Any]:
    """moto's S3 holding both versions, CURRENT naming the served one, and the run's outcome."""
    with archive_bucket() as client:
        for version in (SERVED, CANDIDATE):
            for path in sorted(p for p in (two_versions / version).rglob("*") if p.is_file()):
                key = REGISTRY.key(version, path.relative_to(two_versions / version).as_posix())
                client.upload_file(str(path), BUCKET, key)
        write_pointer(REGISTRY, SERVED, client)
        outcome = {
            "version": CANDIDATE,
            "registry": REGISTRY.uri,
            "promote": True,
            "reasons": ["AUC-PR within tolerance"],
            "baseline": {"source": "registry", "version": SERVED},
            "test": {"auc_pr": 0.8},
        }
        client.put_object(
            Bucket=BUCKET, Key="retrain-runs/r1/outcome.json", Body=json.dumps(outcome).encode()
        )
        yield client


def test_given_a_promoted_candidate_when_published_to_shadow_then_served_beside_current_until_rolled_back(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When the publish step runs as deployed (TG_RETRAIN_PUBLISH_TO=shadow)
    result = publish_step(
        {"run_id": "r1", "outcome": f"s3://{BUCKET}/retrain-runs/r1/outcome.json"},
        registry=REGISTRY,
        s3=s3,
        cache_dir=tmp_path / "publish",
        first="shadow",
    )
    # Then the candidate runs in shadow and CURRENT still names the served version
    assert (result["status"], result["rollout"]) == ("promoted", "shadow")
    pointer = read_pointer(REGISTRY, s3)
    assert pointer is not None and pointer.version == SERVED
    # And a function's ServedModel serves CURRENT with the candidate beside it, verified
    served = ServedModel(REGISTRY, fallback=None, cache_dir=tmp_path / "fn", client=lambda: s3)
    assert served.refresh() == tmp_path / "fn" / SERVED
    assert served.candidate == (tmp_path / "fn" / CANDIDATE, "shadow", 0.0)
    # And the scoring path's candidate() loads it through TG_MODEL_REGISTRY
    monkeypatch.setenv("TG_MODEL_REGISTRY", REGISTRY.uri)
    monkeypatch.setenv("TG_MODEL_CACHE_DIR", str(tmp_path / "scoring"))
    get_settings.cache_clear()
    clear_model_cache()
    found = rollout.candidate()
    assert found is not None and found.model.version == CANDIDATE and found.mode == "shadow"
    # When a person rolls it back, one command
    assert ticketguard(["model", "--registry", REGISTRY.uri, "rollback", "--reason", "looks wrong"]) == 0
    # Then the next registry check drops the candidate; CURRENT never moved
    served.refresh()
    assert served.candidate is None and served.version == SERVED
    state = rollout.S3Store(REGISTRY, s3).rollout()
    assert state.candidate is None and state.history[-1]["reason"] == "looks wrong"
    clear_model_cache()

"""Shadow, canary, promotion and rollback on a registry directory (shared/model/rollout.py), and the
canary's routing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.errors import ConfigurationError
from shared.model import rollout
from shared.model.manifest import MANIFEST_NAME

T = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> rollout.LocalStore:
    """A registry with versions v1, v2, v3 (a manifest file each), serving v1."""
    for version in ("v1", "v2", "v3"):
        (tmp_path / version).mkdir()
        (tmp_path / version / MANIFEST_NAME).write_text("{}")
    (tmp_path / "CURRENT").write_text("v1\n")
    return rollout.LocalStore(tmp_path)


def test_given_a_candidate_in_shadow_when_rolled_back_then_the_served_version_is_unchanged(
    store: rollout.LocalStore,
) -> None:
    # Given v2 in shadow
    rollout.start_candidate(store, "v2", "shadow", by="test", reason="retrained", now=T)
    assert (store.rollout().candidate, store.rollout().mode, store.rollout().weight) == ("v2", "shadow", 0.0)
    # When rolled back without a target
    state = rollout.rollback(store, by="watchdog", reason="worse", now=T)
    # Then no candidate, v1 still served, the history says who and why
    assert state.candidate is None and store.current() == "v1"
    assert state.history[-1] | {} == {
        "action": "rollback", "version": "v2", "by": "watchdog", "reason": "worse", "at": T.isoformat(),
        "mode": "shadow", "serving": "v1",
    }  # fmt: skip


def test_given_promotions_when_rolled_back_twice_then_each_goes_one_version_back(
    store: rollout.LocalStore,
) -> None:
    # Given v2 then v3 promoted (v3 through a canary)
    rollout.promote(store, "v2", by="test", reason="r")
    rollout.start_candidate(store, "v3", "canary", weight=0.2, by="test", reason="r")
    rollout.promote(store, by="test", reason="r")
    assert store.current() == "v3" and store.rollout().candidate is None
    # When rolled back, twice
    rollout.rollback(store, by="test", reason="r")
    assert store.current() == "v2"
    rollout.rollback(store, by="test", reason="r")
    # Then v1, and the history knows nothing earlier
    assert store.current() == "v1"
    with pytest.raises(ConfigurationError, match="--to VERSION"):
        rollout.rollback(store, by="test", reason="r")
    # And --to serves any version that exists, never one that does not
    rollout.rollback(store, "v3", by="test", reason="r")
    assert store.current() == "v3"
    with pytest.raises(ConfigurationError, match="no model version v9"):
        rollout.rollback(store, "v9", by="test", reason="r")


@pytest.mark.parametrize(
    ("version", "mode", "weight", "message"),
    [
        ("v9", "shadow", 0.0, "no model version v9"),
        ("v1", "shadow", 0.0, "already the served version"),
        ("v2", "canary", 0.9, r"weight is a share of traffic in \(0, 0.5\]"),
        ("v2", "blue", 0.1, "mode must be one of"),
    ],
)
def test_given_a_bad_candidate_when_started_then_refused_and_nothing_written(
    store: rollout.LocalStore, version: str, mode: str, weight: float, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        rollout.start_candidate(store, version, mode, weight=weight, by="t", reason="r")  # type: ignore[arg-type]
    assert not (store.root / rollout.ROLLOUT_NAME).exists()


def test_given_no_candidate_when_promoting_without_a_version_then_refused(store: rollout.LocalStore) -> None:
    with pytest.raises(ConfigurationError, match="no candidate to promote"):
        rollout.promote(store, by="t", reason="r")


def test_given_a_rollout_file_with_a_bad_weight_when_read_then_refused(store: rollout.LocalStore) -> None:
    (store.root / rollout.ROLLOUT_NAME).write_text(
        json.dumps({"candidate": "v2", "mode": "canary", "weight": 2})
    )
    with pytest.raises(Exception, match="weight must be within"):
        store.rollout()


def test_canary_routing_is_deterministic_and_close_to_its_weight() -> None:
    ids = [f"txn-{i}" for i in range(20_000)]
    routed = [rollout.routed_to_candidate(i, 0.1) for i in ids]
    assert routed == [rollout.routed_to_candidate(i, 0.1) for i in ids]  # a retry goes the same way
    assert 0.09 < sum(routed) / len(ids) < 0.11
    # a larger weight keeps every id the smaller one routed (raising a canary's share moves no one back)
    wider = [rollout.routed_to_candidate(i, 0.3) for i in ids]
    assert all(w for r, w in zip(routed, wider, strict=True) if r)
    assert not any(rollout.routed_to_candidate(i, 0.0) for i in ids[:100])


def test_given_fixed_ids_when_routed_then_they_go_where_they_went_in_every_process_and_release() -> None:
    """A retry may reach another Lambda instance (another process, another PYTHONHASHSEED) or the next
    release: the routing is a function of the id alone. Pinned: computed once and written here, so a
    per-process salted hash (Python's hash()) or any change of the function fails."""
    # Given fixed transaction ids
    ids = [f"txn-{i}" for i in range(100)]
    # When routed at a canary weight of 0.5 and of 0.1
    half = [i for i, txn in enumerate(ids[:40]) if rollout.routed_to_candidate(txn, 0.5)]
    tenth = [i for i, txn in enumerate(ids) if rollout.routed_to_candidate(txn, 0.1)]
    # Then they go where they went when this test was written
    assert half == [0, 6, 8, 9, 12, 13, 15, 16, 21, 23, 27, 28, 30, 34, 37]
    assert tenth == [16, 27, 28, 37, 50, 56, 61, 89]


def test_given_no_rollout_when_the_scoring_path_asks_then_no_candidate_model_is_loaded(
    store: rollout.LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the served registry is this directory, with no ROLLOUT.json
    import shared.model
    from shared.config import get_settings

    loaded: list[Path] = []
    monkeypatch.setattr(
        shared.model, "load_model", lambda directory=None: loaded.append(directory) or "model"
    )
    monkeypatch.setenv("TG_MODEL_DIR", str(store.root))
    monkeypatch.delenv("TG_MODEL_REGISTRY", raising=False)
    get_settings.cache_clear()
    try:
        # When the scoring path asks for the candidate: none, and no model is loaded for it
        assert rollout.candidate() is None
        assert loaded == []
        # And once v2 is a canary, it is loaded from the registry directory and runs at its weight
        rollout.start_candidate(store, "v2", "canary", weight=0.2, by="t", reason="r")
        assert rollout.candidate() == rollout.Candidate("model", "canary", 0.2)
        assert loaded == [store.root / "v2"]
    finally:
        get_settings.cache_clear()


def test_given_the_scoring_paths_served_models_then_the_rollout_is_read_at_most_once_a_second() -> None:
    from shared.scoring.models import RECHECK_S, ServedModels

    # Given a candidate source counting its reads, behind the scoring path's models, on a clock the test moves
    reads: list[float] = []
    now = [100.0]
    models = ServedModels(
        load=lambda: None, trial=lambda: reads.append(now[0]) or len(reads), clock=lambda: now[0]
    )  # type: ignore[arg-type,return-value]
    # When asked many times within a second: one read, its answer reused
    assert [models.candidate() for _ in range(5)] == [1] * 5
    now[0] += RECHECK_S / 2
    assert models.candidate() == 1
    # Then once a second has passed, read again (a rollout change reaches scoring within RECHECK_S)
    now[0] += RECHECK_S / 2
    assert models.candidate() == 2
    assert reads == [100.0, 100.0 + RECHECK_S]

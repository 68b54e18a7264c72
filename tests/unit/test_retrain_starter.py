"""Which pipeline the model-ops job's emergency retraining starts (shared/jobs/model_ops.py): the state
machine where one is configured, else the starter the local stack registered; none -> a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.config import get_settings
from shared.errors import ConfigurationError
from shared.jobs import model_ops


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("TG_RETRAIN_STATE_MACHINE_ARN", raising=False)
    get_settings.cache_clear()
    model_ops.register_retrain_starter(None)
    yield
    model_ops.register_retrain_starter(None)
    get_settings.cache_clear()


def _local(reason: str, detail: dict[str, Any]) -> str:
    return f"local-{reason}"


def test_given_no_state_machine_and_nothing_registered_when_started_then_a_clear_error(clean: None) -> None:
    # Given neither a state machine nor a registered starter (a function deployed without its ARN)
    starter = model_ops.default_starter()
    # When the job starts a retraining, Then it says what is missing
    with pytest.raises(ConfigurationError, match="TG_RETRAIN_STATE_MACHINE_ARN"):
        starter("drift", {})


def test_given_the_local_stack_registered_its_pipeline_then_the_job_starts_it(clean: None) -> None:
    # Given the local stack's starter registered
    model_ops.register_retrain_starter(_local)
    # Then the job uses it
    assert model_ops.default_starter()("drift", {}) == "local-drift"


def test_given_a_state_machine_in_settings_then_it_wins_over_a_registered_starter(
    clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a state machine configured (as deployed) and a local starter registered
    monkeypatch.setenv("TG_RETRAIN_STATE_MACHINE_ARN", "arn:aws:states:eu-west-1:123456789012:stateMachine:r")
    get_settings.cache_clear()
    model_ops.register_retrain_starter(_local)
    # Then the job starts the state machine, and decides nothing locally
    assert model_ops.state_machine_arn() is not None
    assert model_ops.default_starter() is not _local

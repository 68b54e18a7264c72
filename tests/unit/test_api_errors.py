"""The one exception -> HTTP mapping, and the request models' validation messages."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.api.errors import PayloadTooLarge, error_body, to_response
from shared.api.models import MetricsQuery, PredictRequest
from shared.errors import (
    ConfigurationError,
    Conflict,
    DependencyUnavailable,
    ModelIntegrityError,
    NotFound,
    RateLimited,
    ValidationFailed,
)

CHECKSUMMED = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e"
VALID = {"transaction_id": "txn_1", "wallet_address": CHECKSUMMED, "ticket_id": 7, "price_paid": 150.0}


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (ValidationFailed("bad", field="x"), 400, "validation_error"),
        (NotFound("no ticket", field="ticket_id"), 404, "not_found"),
        (Conflict("other payload"), 409, "conflict"),
        (PayloadTooLarge("too big"), 413, "payload_too_large"),
        (RateLimited("slow down", retry_after_s=7), 429, "rate_limited"),
        (DependencyUnavailable("db down"), 503, "dependency_unavailable"),
        (ModelIntegrityError("tampered"), 503, "model_integrity_error"),
    ],
)
def test_given_domain_error_when_mapped_then_status_and_code(exc: Exception, status: int, code: str) -> None:
    mapped_status, body, _ = to_response(exc)
    assert mapped_status == status
    assert body["error"]["code"] == code


def test_given_rate_limited_when_mapped_then_retry_after_header() -> None:
    _, _, headers = to_response(RateLimited("slow down", retry_after_s=7))
    assert headers == {"Retry-After": "7"}


def test_given_unexpected_error_when_mapped_then_opaque_500_without_trace() -> None:
    # Given an error nobody planned for, carrying internals in its message
    status, body, _ = to_response(RuntimeError("password=hunter2 at /srv/app.py line 3"))
    # Then the client learns nothing of it
    assert status == 500
    assert body == error_body("internal_error", "internal error")
    assert "hunter2" not in json.dumps(body)


def test_given_configuration_error_when_mapped_then_500_hides_message() -> None:
    status, body, _ = to_response(ConfigurationError("DATABASE_URL postgresql://u:secret@db is unreachable"))
    assert status == 500 and "secret" not in json.dumps(body)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({k: v for k, v in VALID.items() if k != "ticket_id"}, "ticket_id"),  # missing
        ({**VALID, "coupon": "FREE"}, "coupon"),  # extra
        ({**VALID, "ticket_id": "7 "}, "ticket_id"),  # a text id with something around it
        ({**VALID, "ticket_id": True}, "ticket_id"),
        ({**VALID, "price_paid": -1}, "price_paid"),  # negative
        ({**VALID, "price_paid": 1e12}, "price_paid"),  # absurd
        ({**VALID, "price_paid": "150"}, "price_paid"),
        ({**VALID, "wallet_address": "0x1234"}, "wallet_address"),  # too short
        ({**VALID, "wallet_address": CHECKSUMMED.replace("Cc", "cC")}, "wallet_address"),  # bad checksum
        ({**VALID, "wallet_address": "742d35cc6634c0532925a3b844bc454e4438f44e"}, "wallet_address"),
        ({**VALID, "transaction_id": ""}, "transaction_id"),
        ({**VALID, "transaction_id": "x" * 129}, "transaction_id"),
        ({**VALID, "ticket_id": 0}, "ticket_id"),
    ],
)
def test_given_bad_input_when_validated_then_400_names_the_field(payload: dict, field: str) -> None:
    # Given a body with one bad field, When it is validated and mapped
    with pytest.raises(ValidationError) as caught:
        PredictRequest.model_validate_json(json.dumps(payload))
    status, body, _ = to_response(caught.value)
    # Then the client gets a 400 that names that field
    assert status == 400
    assert body["error"]["field"] == field
    assert field in body["error"]["message"]


@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2]", '"text"', "null", '{"price_paid": NaN}'])
def test_given_malformed_body_when_validated_then_400(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PredictRequest.model_validate_json(raw)
    status, body, _ = to_response(caught.value)
    assert status == 400
    assert body["error"]["code"] in {"malformed_json", "validation_error"}


def test_given_lowercase_or_checksummed_wallet_when_validated_then_stored_lowercase() -> None:
    for spelling in (CHECKSUMMED, CHECKSUMMED.lower()):
        request = PredictRequest.model_validate_json(json.dumps({**VALID, "wallet_address": spelling}))
        assert request.wallet_address == CHECKSUMMED.lower()


def test_given_metrics_window_backwards_when_resolved_then_400_on_start() -> None:
    query = MetricsQuery.model_validate({"start": "2026-11-24T00:00:00Z", "end": "2026-11-23T00:00:00Z"})
    with pytest.raises(ValidationFailed) as caught:
        query.window()
    assert caught.value.field == "start"


def test_given_metrics_window_too_long_or_naive_when_validated_then_rejected() -> None:
    with pytest.raises(ValidationFailed):
        MetricsQuery.model_validate({"start": "2026-01-01T00:00:00Z", "end": "2026-11-23T00:00:00Z"}).window()
    with pytest.raises(ValidationError):
        MetricsQuery.model_validate({"start": "2026-11-23T00:00:00"})
    with pytest.raises(ValidationError):
        MetricsQuery.model_validate({"window": "1h"})


def test_given_database_outage_when_mapped_then_503_not_500() -> None:
    import psycopg
    from psycopg_pool import PoolTimeout

    for exc in (PoolTimeout("couldn't get a connection after 1.00 sec"), psycopg.OperationalError("refused")):
        status, body, _ = to_response(exc)
        assert status == 503 and body["error"]["code"] == "dependency_unavailable"

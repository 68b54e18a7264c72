"""What the API document's schemas say and what the server enforces, held equal where JSON Schema can
say it (the fuzz test, tests/e2e/test_openapi_fuzz.py, finds what they disagree on at random; these
are the cases it found, fixed)."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from shared.api.models import MetricsQuery, PredictRequest
from shared.api.spec import load_openapi

BODY = {"transaction_id": "t-1", "wallet_address": "0x" + "a1" * 20, "ticket_id": 7, "price_paid": 10.0}


def _parameter_schema(name: str) -> dict[str, object]:
    [parameter] = [
        p for p in load_openapi()["paths"]["/api/v1/metrics"]["get"]["parameters"] if p["name"] == name
    ]
    schema: dict[str, object] = parameter["schema"]
    return schema


@pytest.mark.parametrize("field", ["buyer_ip", "user_id"])
def test_given_an_optional_field_sent_as_null_then_refused_as_the_document_types_it(field: str) -> None:
    schema = load_openapi()["components"]["schemas"]["PredictRequest"]["properties"][field]
    assert schema["type"] == "string" and not schema.get("nullable", False)
    assert field not in load_openapi()["components"]["schemas"]["PredictRequest"]["required"]
    assert getattr(PredictRequest.model_validate(BODY), field) is None  # left out: fine
    with pytest.raises(ValidationError, match="leave the field out"):
        PredictRequest.model_validate({**BODY, field: None})


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23T00:00:00Z",
        "2026-11-23t00:00:00z",
        "2026-11-23T00:00:00.123456789+02:00",
        "2026-11-23T00:00:00.1234567890Z",  # 10 fraction digits
        "2026-11-23T00:00Z",  # no seconds
        "2026-11-23 00:00:00Z",
        "2026-11-23T00:00:00",  # no offset
        "2026-11-23T00:00:00+0200",
        "20261123T000000Z",
    ],
)
@pytest.mark.parametrize("name", ["start", "end"])
def test_given_a_metrics_instant_then_the_documents_pattern_and_the_server_agree(
    name: str, text: str
) -> None:
    pattern = str(_parameter_schema(name)["pattern"])
    in_document = re.search(pattern, text) is not None
    try:
        MetricsQuery.model_validate({name: text})
        on_server = True
    except ValidationError:
        on_server = False
    assert in_document == on_server, (text, in_document, on_server)


def test_given_the_buyer_ip_then_the_document_asks_for_an_ipv4_or_ipv6_address() -> None:
    schema = load_openapi()["components"]["schemas"]["PredictRequest"]["properties"]["buyer_ip"]
    assert schema["anyOf"] == [{"format": "ipv4"}, {"format": "ipv6"}]
    for address in ("203.0.113.7", "2001:db8::1", "::ffff:203.0.113.7"):
        assert PredictRequest.model_validate({**BODY, "buyer_ip": address}).buyer_ip
    for not_an_address in ("203.0.113.7:80", "example.com", " 203.0.113.7"):
        with pytest.raises(ValidationError):
            PredictRequest.model_validate({**BODY, "buyer_ip": not_an_address})

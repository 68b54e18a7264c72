"""Issue 30 item 2: every field of every event type is required unless this file says it may be left
out, and an event without a required field is rejected naming `data.<field>`.

The fields come from the Pydantic models (shared.ingest.models.DATA_MODELS), so a new field or a new
event type is covered the day it is added: required by default; a field the marketplace may leave out
is listed in OPTIONAL below, where a reviewer sees it. A required field made optional by mistake (a
transfer without `to_wallet` accepted, the ticket's owner set to NULL) fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.ingest.models import DATA_MODELS
from shared.ingest.validation import validate_events
from tests.fixtures.ingest import event, listed_event, minted, order, user

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WALLET = "0x" + "ab" * 20
OTHER_WALLET = "0x" + "cd" * 20
EARLIER = (NOW - timedelta(hours=1)).isoformat()

# The fields an event may leave out, per data model: everything else is required.
OPTIONAL: dict[str, set[str]] = {
    "UserData": {"kyc_level"},
    "TicketMintedData": {"owner_wallet", "mint_tx_hash"},
    "OrderData": {"seller_wallet", "currency"},
    "SessionData": {"ended_at"},
    "LoginAttemptData": {"user_id", "failure_reason", "is_admin", "mfa"},
    "LabelData": {"source"},
}

# One valid `data` per event type, every field given (optional ones included).
_ORDER = order(
    1,
    ticket_id=2,
    event_id=3,
    user_id=4,
    wallet=WALLET,
    created_at=EARLIER,
    currency="USD",
    seller_wallet=None,
)
_SESSION = {
    "session_id": 1,
    "user_id": 2,
    "ip": "198.51.100.7",
    "user_agent": "Browser/1",
    "started_at": EARLIER,
}
VALID: dict[str, dict[str, Any]] = {
    "user.created": user(1, created_at=EARLIER, kyc_level=1),
    "user.updated": user(1, created_at=EARLIER, kyc_level=2),
    "wallet.linked": {"address": WALLET, "user_id": 1},
    "event.listed": listed_event(3),
    "ticket.minted": minted(2, 3, owner_wallet=WALLET, mint_tx_hash="0x" + "12" * 32),
    "ticket.listed": {"ticket_id": 2, "seller_wallet": WALLET, "price": "95.00"},
    "ticket.transferred": {"ticket_id": 2, "from_wallet": WALLET, "to_wallet": OTHER_WALLET},
    "order.placed": _ORDER,
    "order.paid": _ORDER,
    "order.failed": _ORDER,
    "order.refunded": _ORDER,
    "session.started": {**_SESSION, "ended_at": None},
    "session.ended": {**_SESSION, "ended_at": NOW.isoformat()},
    "login.attempted": {
        "attempt_id": 1,
        "user_id": 2,
        "email": "a@example.com",
        "ip": "198.51.100.8",
        "success": True,
        "failure_reason": None,
        "is_admin": False,
        "mfa": "passed",
    },
    "chargeback.filed": {"transaction_id": "txn-1"},
    "fraud.confirmed": {"transaction_id": "txn-1", "source": "investigation"},
    "fraud.false_positive": {"transaction_id": "txn-1", "source": "review"},
}


def _fields(optional: bool) -> list[tuple[str, str]]:
    return [
        (event_type, name)
        for event_type, model in DATA_MODELS.items()
        for name in model.model_fields
        if (name in OPTIONAL.get(model.__name__, set())) == optional
    ]


def _validated(event_type: str, data: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    return validate_events([event(event_type, data, event_id="e-1", occurred_at=EARLIER)], now=NOW)


def _validated_without(event_type: str, field: str) -> tuple[list[Any], list[Any]]:
    """A valid event of this type with one field left out, validated."""
    return _validated(event_type, {name: value for name, value in VALID[event_type].items() if name != field})


def test_every_event_type_has_a_valid_example_and_every_listed_optional_field_exists() -> None:
    # Given the event types and the optional fields this file lists
    assert set(VALID) == set(DATA_MODELS), "add a valid example for each new event type"
    models = {model.__name__: model for model in DATA_MODELS.values()}
    for name, fields in OPTIONAL.items():
        assert fields <= set(models[name].model_fields), name
    # When each example is validated, Then it is accepted whole (the drops below start from valid events)
    for event_type, data in VALID.items():
        valid, rejected = _validated(event_type, data)
        assert rejected == [] and len(valid) == 1, (event_type, rejected)
        assert set(data) == set(DATA_MODELS[event_type].model_fields), f"{event_type}: give every field"


@pytest.mark.parametrize(("event_type", "field"), _fields(optional=False))
def test_given_an_event_without_a_required_field_when_validated_then_it_is_rejected_naming_it(
    event_type: str, field: str
) -> None:
    # Given a valid event of this type with one required field left out, When validated
    valid, rejected = _validated_without(event_type, field)
    # Then it is rejected, and the reason names data.<field>
    assert valid == [], f"{event_type} without {field} was accepted"
    assert [(r.status, r.field) for r in rejected] == [("rejected", f"data.{field}")]
    assert "required" in (rejected[0].reason or "")


@pytest.mark.parametrize(("event_type", "field"), _fields(optional=True))
def test_given_an_event_without_an_optional_field_when_validated_then_it_is_accepted(
    event_type: str, field: str
) -> None:
    # Given a valid event of this type without one of its optional fields, When validated
    valid, rejected = _validated_without(event_type, field)
    # Then it is accepted (making it required would break the marketplace's senders)
    assert rejected == [] and len(valid) == 1, (event_type, field, rejected)

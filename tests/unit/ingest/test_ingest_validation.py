"""Issue 11 "Bad input": each bad event of a batch gets its own reason naming its field; the good
ones are kept. No database: validate_events only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.ingest.validation import validate_events
from tests.fixtures.ingest import event, user

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WALLET = "0x" + "ab" * 20


def _one(raw: Any) -> tuple[str | None, str | None]:
    valid, rejected = validate_events([raw], now=NOW)
    assert not valid and len(rejected) == 1
    return rejected[0].field, rejected[0].reason


def _good(event_id: str = "good-1") -> dict[str, Any]:
    return event("user.created", user(7), event_id=event_id, occurred_at=NOW.isoformat())


def test_given_a_valid_user_event_when_validated_then_it_is_kept_with_its_canonical_fields() -> None:
    valid, rejected = validate_events([_good()], now=NOW)
    assert rejected == [] and [index for index, _ in valid] == [0]
    assert valid[0][1].occurred_at == NOW


def test_given_a_mixed_case_wallet_with_a_valid_checksum_when_validated_then_it_is_stored_lowercase() -> None:
    raw = event(
        "wallet.linked",
        {"address": "0x742d35Cc6634C0532925a3b844Bc454e4438f44e", "user_id": 1},
        occurred_at=NOW.isoformat(),
    )
    valid, _ = validate_events([raw], now=NOW)
    assert valid[0][1].data.model_dump()["address"] == "0x742d35cc6634c0532925a3b844bc454e4438f44e"


@pytest.mark.parametrize(
    ("mutate", "field", "says"),
    [
        (lambda e: {**e, "type": "user.deleted"}, "type", "unknown event type"),
        (lambda e: {k: v for k, v in e.items() if k != "occurred_at"}, "occurred_at", "is required"),
        (lambda e: {k: v for k, v in e.items() if k != "event_id"}, "event_id", "is required"),
        (lambda e: {**e, "event_id": "has space"}, "event_id", "must be 1-128"),
        (lambda e: {**e, "extra": 1}, "extra", "is not a field"),
        (lambda e: {**e, "occurred_at": "yesterday"}, "occurred_at", "ISO 8601"),
        (lambda e: {**e, "occurred_at": "2026-11-27T11:00:00"}, "occurred_at", "with its zone"),
        (lambda e: {**e, "occurred_at": (NOW + timedelta(minutes=6)).isoformat()}, "occurred_at", "future"),
        (lambda e: {**e, "data": [1]}, "data", "must be an object"),
        (lambda e: {**e, "data": {**e["data"], "user_id": "7 or 8"}}, "data.user_id", "integer"),
        (lambda e: {**e, "data": {**e["data"], "user_id": True}}, "data.user_id", "integer"),
        (
            lambda e: {**e, "data": {k: v for k, v in e["data"].items() if k != "email"}},
            "data.email",
            "required",
        ),
        (lambda e: {**e, "data": {**e["data"], "country": "gb"}}, "data.country", "pattern"),
        (lambda e: {**e, "data": {**e["data"], "nickname": "x"}}, "data.nickname", "not permitted"),
    ],
)
def test_given_one_bad_event_when_validated_then_it_alone_is_rejected_naming_its_field(
    mutate: Any, field: str, says: str
) -> None:
    # Given a batch of a good event and a bad one
    batch = [_good("good-1"), mutate(_good("bad-1"))]
    # When validated
    valid, rejected = validate_events(batch, now=NOW)
    # Then the good one is kept and the bad one has one reason naming the field
    assert [index for index, _ in valid] == [0]
    assert len(rejected) == 1 and rejected[0].index == 1 and rejected[0].status == "rejected"
    assert rejected[0].field == field
    assert rejected[0].reason is not None and rejected[0].reason.startswith(f"{field}: ")
    assert says.lower() in rejected[0].reason.lower()


def test_given_an_event_that_is_not_an_object_when_validated_then_it_is_rejected() -> None:
    assert _one("just text") == ("event", "event: must be an object {event_id, type, occurred_at, data}")


def test_given_a_bad_wallet_when_validated_then_the_reason_names_data_address() -> None:
    field, reason = _one(
        event("wallet.linked", {"address": "0x123", "user_id": 1}, occurred_at=NOW.isoformat())
    )
    assert field == "data.address" and "hex address" in (reason or "")


def test_given_a_wallet_with_a_wrong_checksum_when_validated_then_it_is_rejected() -> None:
    raw = event("wallet.linked", {"address": "0x742D35Cc6634C0532925a3b844Bc454e4438f44e", "user_id": 1})
    assert _one({**raw, "occurred_at": NOW.isoformat()})[0] == "data.address"


def test_given_a_time_within_the_clock_skew_when_validated_then_it_is_kept() -> None:
    raw = {**_good(), "occurred_at": (NOW + timedelta(minutes=4)).isoformat()}
    assert len(validate_events([raw], now=NOW)[0]) == 1


def test_given_an_event_id_twice_in_one_batch_when_validated_then_the_second_is_rejected() -> None:
    valid, rejected = validate_events([_good("same"), _good("same")], now=NOW)
    assert [index for index, _ in valid] == [0]
    assert [(r.index, r.field) for r in rejected] == [(1, "event_id")]
    assert "more than once" in (rejected[0].reason or "")


def test_given_an_order_with_a_bad_buyer_ip_when_validated_then_the_reason_names_data_buyer_ip() -> None:
    from tests.fixtures.ingest import order

    data = order(1, ticket_id=1, event_id=1, user_id=1, wallet=WALLET, buyer_ip="300.1.1.1")
    assert _one(event("order.paid", data, occurred_at=NOW.isoformat()))[0] == "data.buyer_ip"


def test_given_a_resale_without_a_seller_when_validated_then_it_is_rejected() -> None:
    from tests.fixtures.ingest import order

    data = order(1, ticket_id=1, event_id=1, user_id=1, wallet=WALLET, kind="resale")
    field, reason = _one(event("order.paid", data, occurred_at=NOW.isoformat()))
    assert field == "data" and "seller_wallet" in (reason or "")


def test_given_a_failed_admin_mfa_login_when_validated_then_it_is_kept_and_inconsistent_ones_are_not() -> (
    None
):
    good = {"attempt_id": 1, "email": "a@example.com", "ip": "198.51.100.1", "success": False,
            "failure_reason": "bad_mfa", "is_admin": True, "mfa": "failed"}  # fmt: skip
    assert (
        len(validate_events([event("login.attempted", good, occurred_at=NOW.isoformat())], now=NOW)[0]) == 1
    )
    bad = {**good, "failure_reason": "bad_password"}
    assert _one(event("login.attempted", bad, occurred_at=NOW.isoformat()))[0] == "data"


def test_given_labels_when_validated_then_each_type_is_known() -> None:
    raws = [
        event("chargeback.filed", {"transaction_id": "t-1"}, occurred_at=NOW.isoformat()),
        event(
            "fraud.confirmed",
            {"transaction_id": "t-2", "source": "investigation"},
            occurred_at=NOW.isoformat(),
        ),
        event("fraud.false_positive", {"transaction_id": "t-3"}, occurred_at=NOW.isoformat()),
    ]
    assert len(validate_events(raws, now=NOW)[0]) == 3


def test_given_message_attributes_a_batch_row_cannot_hold_when_read_then_the_message_is_still_a_batch() -> (
    None
):
    # Given a message sent around the gateway with a NUL in its batch id and key id, and a time
    # no reader can take (issue 21: nothing in a message may make its batch fail for ever)
    from shared.ingest.consumer import from_message

    batch = from_message(
        "{}", {"batch_id": "b\x00", "api_key_id": "k\x00", "received_at_ms": "9" * 30}, "message-1"
    )
    # Then it is answered under the message's own id, the key id written storable, received now
    assert batch.batch_id == "message-1" and batch.api_key_id == "k\\u0000"
    assert batch.received_at.year == datetime.now(UTC).year
    assert (
        from_message("{}", {"batch_id": "req-1", "received_at_ms": "1767225600000"}, "m").batch_id == "req-1"
    )

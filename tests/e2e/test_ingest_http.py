"""Issue 11 item 2 through the local gateway: facts posted to POST /api/v1/events as the
marketplace backend would, then a purchase of the new ticket scored from them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.api import assert_matches_openapi
from tests.fixtures.ingest import event, listed_event, minted, post_and_wait, user

EVENTS = "/api/v1/events"
PREDICT = "/api/v1/ml/predict/fraud"
WALLET = "0x" + "5e" * 20


@pytest.fixture
def client(gateway_url: str, api_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, headers={"x-api-key": api_key}, timeout=60) as session:
        yield session


def test_given_a_new_user_wallet_event_and_ticket_posted_when_the_ticket_is_scored_then_nothing_is_unavailable(
    client: httpx.Client,
) -> None:
    # Given a new user, its wallet, an event and a ticket posted through ingest
    batch = {
        "events": [
            event("user.created", user(8801)),
            event("wallet.linked", {"address": WALLET, "user_id": 8801}),
            event("event.listed", listed_event(880)),
            event("ticket.minted", minted(88001, 880)),
        ]
    }
    outcome = post_and_wait(client, batch)
    assert [r["status"] for r in outcome["results"]] == ["accepted"] * 4
    # When a purchase of that ticket is scored with the buyer's IP and payment instrument
    body = {
        "transaction_id": "ingest-e2e-1",
        "wallet_address": WALLET,
        "ticket_id": 88001,
        "price_paid": 80.0,
        "buyer_ip": "203.0.113.77",
        "payment_fingerprint": "pf-ingest-e2e-1",
    }
    scored = client.post(PREDICT, json=body)
    # Then it is decided from the ingested facts: no feature of the ticket, account or IP is missing
    assert scored.status_code == 200, scored.text
    assert scored.json().get("unavailable_features", []) == []


def test_given_a_batch_with_good_and_bad_events_when_posted_then_a_result_for_each(
    client: httpx.Client,
) -> None:
    batch = {"events": [event("user.created", user(8802)), event("user.deleted", {}), "text"]}
    results = post_and_wait(client, batch)["results"]
    assert [(r["status"], r["field"]) for r in results] == [
        ("accepted", None),
        ("rejected", "type"),
        ("rejected", "event"),
    ]
    # Sent again: the stored one is a duplicate, the others still rejected
    again = post_and_wait(client, batch)
    assert [r["status"] for r in again["results"]] == ["duplicate", "rejected", "rejected"]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"events": []}', b'{"events": {}}', b'{"batch": []}', b"[]"],
)
def test_given_a_malformed_batch_when_posted_then_400_and_nothing_is_queued(
    client: httpx.Client, body: bytes
) -> None:
    response = client.post(EVENTS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert_matches_openapi("POST", EVENTS, response)


def test_given_501_events_when_posted_then_400_naming_events(client: httpx.Client) -> None:
    response = client.post(EVENTS, json={"events": [event("user.created", user(1))] * 501})
    assert response.status_code == 400 and response.json()["error"]["message"].startswith("events")


def test_given_a_batch_over_1_mb_when_posted_then_413_and_under_it_is_read(client: httpx.Client) -> None:
    # A batch larger than the scoring route's 16 KiB is read whole; over 1 MB (the queue's message
    # limit, with room for the message's attributes) it is refused
    padded = event("user.created", user(8803, display_name="x" * 200))
    assert post_and_wait(client, {"events": [padded] * 400})["rejected"] == 399  # one id, 400 times
    huge = json.dumps({"events": [event("user.created", user(1, display_name="x" * 3000))] * 400})
    too_large = client.post(EVENTS, content=huge, headers={"content-type": "application/json"})
    assert too_large.status_code == 413
    assert_matches_openapi("POST", EVENTS, too_large)


def test_given_an_unknown_batch_id_when_its_results_are_read_then_404_and_a_malformed_id_400(
    client: httpx.Client,
) -> None:
    unknown = client.get(f"{EVENTS}/batches/no-such-batch")
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "batch_id"
    assert_matches_openapi("GET", "/api/v1/events/batches/{batch_id}", unknown)
    malformed = client.get(f"{EVENTS}/batches/{'x' * 129}")
    assert malformed.status_code == 400, malformed.text


def test_given_a_non_json_content_type_when_posted_then_415(client: httpx.Client) -> None:
    response = client.post(EVENTS, content=b"events=1", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert_matches_openapi("POST", EVENTS, response)


def test_given_a_ticket_ingested_with_a_text_id_when_scored_by_that_id_then_its_features_are_known(
    client: httpx.Client,
) -> None:
    # Given the marketplace's own text ids for the user, event and ticket
    wallet = "0x" + "5f" * 20
    batch = {
        "events": [
            event("user.created", user("usr_e2e_1")),  # type: ignore[arg-type]
            event("wallet.linked", {"address": wallet, "user_id": "usr_e2e_1"}),
            event("event.listed", listed_event("evt_e2e")),  # type: ignore[arg-type]
            event("ticket.minted", minted("evt_e2e_001", "evt_e2e")),  # type: ignore[arg-type]
        ]
    }
    assert post_and_wait(client, batch)["accepted"] == 4
    # When a purchase of it is scored with the same text ticket id (the spec's example shape)
    body = {
        "transaction_id": "ingest-e2e-text-1",
        "wallet_address": wallet,
        "ticket_id": "evt_e2e_001",
        "price_paid": 80.0,
        "buyer_ip": "203.0.113.78",
        "payment_fingerprint": "pf-ingest-e2e-2",
    }
    scored = client.post(PREDICT, json=body)
    # Then the ticket, its event and the account are known: no feature unavailable
    assert scored.status_code == 200, scored.text
    assert scored.json().get("unavailable_features", []) == []
    # while a text id never ingested is scored without its ticket's features
    unknown = client.post(
        PREDICT, json={**body, "transaction_id": "ingest-e2e-text-2", "ticket_id": "evt_nope"}
    )
    assert unknown.status_code == 200 and "resale_time" in unknown.json()["unavailable_features"]

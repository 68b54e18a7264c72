"""The pricing routes over HTTP through the local gateway (the real handlers, PostgreSQL, Redis):
an assignment and its sticky repeat, the experiment's state (also in the metrics API), bad input
answered 4xx by the one exception mapping, keys outside the usage plan refused; every response
matches openapi.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from shared.api.usage_plans import local_api_key
from tests.fixtures.api import assert_matches_openapi

ASSIGN = "/api/v1/pricing/assignments"
STATE = "/api/v1/pricing/experiment"


@pytest.fixture
def client(gateway_url: str, api_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, headers={"x-api-key": api_key}, timeout=30) as session:
        yield session


@pytest.fixture
def on_sale(db: psycopg.Connection) -> int:
    """An event on sale for ten more days, face value 80."""
    now = datetime.now(UTC)
    db.execute(
        "INSERT INTO marketplace.events (event_id, name, venue, city, country, category, capacity, face_value,"
        " sale_starts_at, starts_at, created_at) VALUES (4242, 'Show', 'Hall', 'Oslo', 'NO', 'theatre', 100, 80,"
        " %s, %s, %s)",
        (now - timedelta(days=5), now + timedelta(days=10), now - timedelta(days=6)),
    )
    return 4242


def test_given_an_event_when_assigned_twice_then_one_arm_and_the_state_counts_it(
    client: httpx.Client, on_sale: int
) -> None:
    # When the backend asks for the event's price twice
    first = client.post(ASSIGN, json={"event_id": on_sale})
    again = client.post(ASSIGN, json={"event_id": on_sale, "price_floor": 70.0})
    # Then both answers match the contract, name the same arm, and only the first assigned it
    for response in (first, again):
        assert_matches_openapi("POST", ASSIGN, response)
        assert response.status_code == 200
    assert first.json()["new"] is True and again.json()["new"] is False
    assert first.json()["arm"] == again.json()["arm"] and again.json()["price"]["floor"] == 70.0
    # And the experiment's state counts one assigned event, in its route and in the metrics API
    state = client.get(STATE)
    assert_matches_openapi("GET", STATE, state)
    assigned = {arm["arm"]: arm["events_assigned"] for arm in state.json()["arms"]}
    assert assigned[first.json()["arm"]] == 1 and sum(assigned.values()) == 1
    metrics = client.get("/api/v1/metrics")
    assert_matches_openapi("GET", "/api/v1/metrics", metrics)
    assert metrics.json()["pricing"]["arms"] == state.json()["arms"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"event_id": 999999}, 404, "event_id"),
        ({"event_id": True}, 400, "event_id"),
        ({"event_id": "bad id!"}, 400, "event_id"),
        ({}, 400, "event_id"),
        ({"event_id": 4242, "price_floor": -1}, 400, "price_floor"),
        ({"event_id": 4242, "price_floor": 90.0, "price_ceiling": 50.0}, 400, "price_floor"),
        ({"event_id": 4242, "price_floor": "cheap"}, 400, "price_floor"),
        ({"event_id": 4242, "price_ceiling": 10.0}, 400, "price_ceiling"),
        ({"event_id": 4242, "colour": "red"}, 400, "colour"),
    ],
)
def test_given_bad_input_when_assigning_then_4xx_naming_it(
    client: httpx.Client, on_sale: int, body: dict, status: int, field: str | None
) -> None:
    response = client.post(ASSIGN, json=body)
    assert_matches_openapi("POST", ASSIGN, response)
    assert response.status_code == status, response.text
    assert response.json()["error"].get("field") == field


def test_given_a_malformed_body_when_assigning_then_400(client: httpx.Client) -> None:
    response = client.post(ASSIGN, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"


def test_given_the_dashboard_key_when_calling_pricing_then_403_and_it_reads_the_state_in_the_metrics(
    gateway_url: str, on_sale: int
) -> None:
    # Given the dashboard's key (its usage plan: metrics and health details). Then the pricing routes
    # refuse it (one function serves both, so both are open to the same keys), the metrics API shows it
    with httpx.Client(base_url=gateway_url, headers={"x-api-key": local_api_key("dashboard")}) as dashboard:
        assert dashboard.post(ASSIGN, json={"event_id": on_sale}).status_code == 403
        assert dashboard.get(STATE).status_code == 403
        assert dashboard.get("/api/v1/metrics").json()["pricing"]["routing"] == "epsilon_greedy"

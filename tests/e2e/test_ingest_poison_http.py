"""Issue 21 findings 1, 2 and 4 over HTTP through the local gateway and its FIFO ingest queue, as the
probe sent them: a poisoned event never holds up or loses the good ones; dates no reader can read
are refused at the edge; a key given twice is refused; the metrics window's instants are exact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.fixtures.api import assert_matches_openapi
from tests.fixtures.ingest import event, order, post_and_wait, user
from tooling.local.queue import DirectoryQueue

EVENTS = "/api/v1/events"
METRICS = "/api/v1/metrics"
PREDICT = "/api/v1/ml/predict/fraud"
WALLET = "0x" + "5a" * 20


@pytest.fixture
def queued(
    database_url: str, redis_url: str, api_state: None, tmp_path: Path, api_key: str
) -> Iterator[tuple[httpx.Client, DirectoryQueue]]:
    """A client of the local gateway, and the ingest queue its consumer drains (to look inside)."""
    from tooling.local.gateway import LocalGateway, queue_consumers, start_in_thread

    with queue_consumers(tmp_path / "queues") as queues:
        running = start_in_thread(LocalGateway(queues=queues))
        try:
            with httpx.Client(base_url=running.url, headers={"x-api-key": api_key}, timeout=60) as client:
                yield client, queues["ingest"]
        finally:
            running.stop()


def _placed(order_id: int, **overrides: object) -> dict[str, object]:
    return order(order_id, ticket_id=1, event_id=1, user_id=1, wallet=WALLET, **overrides)


@pytest.mark.parametrize(
    ("poisoned", "field"),
    [
        ({**event("user.created", user(7702)), "a\u0000b": 1}, "a\\u0000b"),
        (event("user.created", {**user(7702), "a\u0000b": "x"}), "data.a\\u0000b"),
        (event("order.placed", _placed(7703, payment_instrument="card\u0000")), "data.payment_instrument"),
    ],
    ids=["NUL in an envelope key", "NUL in a data key", "NUL in an order.placed text field"],
)
def test_given_a_poisoned_batch_when_posted_then_the_good_event_is_stored_and_the_next_batch_is_consumed_at_once(
    queued: tuple[httpx.Client, DirectoryQueue], poisoned: dict[str, object], field: str
) -> None:
    client, queue = queued
    # Given a batch of one good event and one poisoned one (202: the gateway queues it whole)
    outcome = post_and_wait(client, {"events": [event("user.created", user(7701)), poisoned]})
    # Then the good event is stored and the poisoned one rejected with its reason
    assert (outcome["status"], outcome["accepted"], outcome["rejected"]) == ("processed", 1, 1)
    bad = outcome["results"][1]
    assert (bad["status"], bad["field"]) == ("rejected", field)
    assert "NUL" in bad["reason"]
    # and the next clean batch is consumed at once: nothing retried, nothing dead-lettered
    assert post_and_wait(client, {"events": [event("user.created", user(7704))]})["accepted"] == 1
    assert queue.depth() == {"ready": 0, "inflight": 0, "dead": 0}
    [first, *_] = sorted(queue.root.glob("*/*"), key=lambda path: path.name) or [None]
    assert first is None  # no message file left anywhere: each was received once and deleted


def test_given_a_lone_surrogate_when_posted_then_400_at_the_edge(
    queued: tuple[httpx.Client, DirectoryQueue],
) -> None:
    client, queue = queued
    body = json.dumps({"events": [event("user.created", user(7705))]}).replace("User 7705", "User \\ud800")
    response = client.post(EVENTS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert_matches_openapi("POST", EVENTS, response)
    assert queue.depth() == {"ready": 0, "inflight": 0, "dead": 0}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda e: {**e, "data": {**e["data"], "created_at": "0001-01-01T00:00:00+14:00"}},
            "data.created_at",
        ),
        (
            lambda e: {**e, "data": {**e["data"], "created_at": "9999-12-31T23:59:59-14:00"}},
            "data.created_at",
        ),
        (lambda e: {**e, "occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at"),
        (lambda e: {**e, "occurred_at": 1767225600}, "occurred_at"),
        (lambda e: {**e, "data": {**e["data"], "created_at": "1700000000"}}, "data.created_at"),
    ],
    ids=["year 1 BC", "year 10000", "occurred_at year 1 BC", "bare epoch occurred_at", "epoch text"],
)
def test_given_a_date_no_reader_can_read_when_posted_then_that_event_is_rejected_with_its_reason(
    queued: tuple[httpx.Client, DirectoryQueue], mutate: object, field: str
) -> None:
    client, _ = queued
    bad = mutate(event("user.created", user(7711)))  # type: ignore[operator]
    outcome = post_and_wait(client, {"events": [event("user.created", user(7710)), bad]})
    assert [r["status"] for r in outcome["results"]] == ["accepted", "rejected"]
    assert outcome["results"][1]["field"] == field


def test_given_a_key_given_twice_in_an_event_when_posted_then_that_event_is_rejected(
    queued: tuple[httpx.Client, DirectoryQueue],
) -> None:
    client, _ = queued
    twice = json.dumps(event("user.created", user(7721))).replace('"country":', '"country": "FR", "country":')
    body = '{"events": [' + twice + "]}"
    posted = client.post(EVENTS, content=body, headers={"content-type": "application/json"})
    assert posted.status_code == 202
    outcome = client.get(posted.json()["results"])
    for _ in range(600):
        if outcome.status_code == 200:
            break
        outcome = client.get(posted.json()["results"])
    assert outcome.json()["results"][0]["field"] == "data.country"


def test_given_a_nul_in_a_scoring_request_key_or_value_when_posted_then_400(
    queued: tuple[httpx.Client, DirectoryQueue],
) -> None:
    client, _ = queued
    body = {"transaction_id": "nul-1", "wallet_address": WALLET, "ticket_id": 1, "price_paid": 1.0}
    for bad in (
        {**body, "a\u0000b": 1},
        {**body, "transaction_id": "nul\u0000"},
        {**body, "ticket_id": "t\u0000"},
    ):
        response = client.post(PREDICT, json=bad)
        assert response.status_code == 400, response.text
        assert_matches_openapi("POST", PREDICT, response)


@pytest.mark.parametrize(
    "query",
    [
        "end=1970-01-01T00:00:00Z",
        "start=2026-01-01T00:00:00Z&start=2026-01-02T00:00:00Z&end=2026-01-03T00:00:00Z",
        "end=2026-01-03T00:00:00Z&end=2026-01-04T00:00:00Z",
        "start=1767225600",
    ],
    ids=["a window starting in 1969", "start twice", "end twice", "bare epoch"],
)
def test_given_a_metrics_window_no_reader_agrees_on_when_requested_then_400(
    queued: tuple[httpx.Client, DirectoryQueue], query: str
) -> None:
    client, _ = queued
    response = client.get(f"{METRICS}?{query}")
    assert response.status_code == 400, response.text
    assert_matches_openapi("GET", METRICS, response)


def test_given_a_metrics_window_100_ns_long_when_requested_then_it_is_read_whole(
    queued: tuple[httpx.Client, DirectoryQueue],
) -> None:
    client, _ = queued
    query = "start=2026-01-01T00:00:00.0000001Z&end=2026-01-01T00:00:00.0000002Z"
    response = client.get(f"{METRICS}?{query}")
    assert response.status_code == 200, response.text


def test_given_a_stored_row_with_an_unreadable_date_when_the_etl_and_a_retention_dry_run_go_then_both_complete(
    queued: tuple[httpx.Client, DirectoryQueue],
    db: psycopg.Connection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tooling.cli import main

    client, _ = queued
    monkeypatch.setenv("TG_ARCHIVE_ROOT", str(tmp_path / "archive"))
    # Given facts ingested through the gateway, then one user's created_at and one ledger fact's
    # occurred_at in year 1 BC, as the code before this fix stored them
    batch = {"events": [event("user.created", user(7731)), event("user.created", user(7732))]}
    assert post_and_wait(client, batch)["accepted"] == 2
    db.execute(
        "UPDATE marketplace.users SET created_at = %s WHERE user_id = 7731", ("0001-01-01T00:00:00+14:00",)
    )
    db.execute(
        "UPDATE ingest.events SET occurred_at = %s WHERE event_id = (SELECT min(event_id) FROM ingest.events)",
        ("0001-01-01T00:00:00+14:00",),
    )
    # When `ticketguard etl` runs: it completes, the good user loaded, the bad one quarantined
    assert main(["etl"]) == 0
    assert db.execute("SELECT user_id FROM intel.users").fetchall() == [(7732,)]
    rejects = db.execute("SELECT source, natural_key, reason FROM intel.etl_rejects").fetchall()
    assert rejects == [("backend.users", "7731", "time_out_of_range")]
    # and `ticketguard retention --dry-run` completes, saying which rows a run leaves in quarantine
    capsys.readouterr()
    assert main(["retention", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "ingest.events" in printed and "1 row(s) with a time out of range" in printed

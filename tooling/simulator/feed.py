"""The simulated marketplace's backend at work: its facts POSTed to the ingest API a batch at a time,
as the real backend would, then each batch's results read back (GET /api/v1/events/batches/{id}).
What `make run` seeds with; a rejected fact stops the seeding with its reason (the simulator's facts
are all valid, so a rejection is a bug to see, not to skip)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.errors import DependencyUnavailable

BATCH_EVENTS = 500


@dataclass
class FeedReport:
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)  # the first few, for the message


def post_facts(
    base_url: str, api_key: str, facts: list[dict[str, Any]], *, timeout_s: float = 600.0
) -> FeedReport:
    report = FeedReport()
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=base_url, headers={"x-api-key": api_key}, timeout=60) as client:
        pending = [
            _post(client, facts[start : start + BATCH_EVENTS], deadline)
            for start in range(0, len(facts), BATCH_EVENTS)
        ]
        for results_path in pending:
            outcome = _wait(client, results_path, deadline)
            report.batches += 1
            report.accepted += outcome["accepted"]
            report.duplicates += outcome["duplicates"]
            report.rejected += outcome["rejected"]
            report.rejections += [r for r in outcome["results"] if r["status"] == "rejected"][:5]
    return report


def _post(client: httpx.Client, events: list[dict[str, Any]], deadline: float) -> str:
    while True:
        response = client.post("/api/v1/events", json={"events": events})
        if response.status_code == 202:
            return str(response.json()["results"])
        if response.status_code not in {429, 503} or time.monotonic() > deadline:
            raise DependencyUnavailable(
                f"ingest refused a batch: {response.status_code} {response.text[:300]}"
            )
        time.sleep(float(response.headers.get("retry-after", "0.5")))


def _wait(client: httpx.Client, results_path: str, deadline: float) -> dict[str, Any]:
    while True:
        response = client.get(results_path)
        if response.status_code == 200:
            outcome: dict[str, Any] = response.json()
            return outcome
        if response.status_code != 404 or time.monotonic() > deadline:
            raise DependencyUnavailable(
                f"ingest did not answer {results_path}: {response.status_code} {response.text[:300]}"
            )
        time.sleep(0.05)

"""The SIEM's entry: a batch of security events -> stored (once each) -> correlated (one Redis call)
-> findings stored (once per dedup key) -> the open ones published for the SOAR.

The order makes a crash harmless: the events are stored before they are correlated, the findings
before they are published, and a source's cursor moves only after its events' findings are stored.
A rerun adds the same members to the same windows (no double count), finds the same latch (the same
dedup key), and publishes the findings still `open` (not yet handled by the SOAR) again: the SOAR acts
once per finding and action."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import redis

from shared.config import SecuritySettings
from shared.siem import polling
from shared.siem.correlation import correlate
from shared.siem.logs import decode_subscription
from shared.siem.models import Finding, SecurityEvent, Severity
from shared.siem.store import store_events, store_finding

Publisher = Callable[[Sequence[Finding]], None]


@dataclass
class Outcome:
    """What one invocation did (the handler's metrics and the replay's output read it)."""

    log_events: int = 0
    events: int = 0
    events_new: int = 0
    findings: list[Finding] = field(default_factory=list)
    findings_new: int = 0
    new_findings: list[Finding] = field(default_factory=list)
    published: int = 0
    redis_round_trips: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    severity_by_kind: dict[str, str] = field(default_factory=dict)
    marketplace_admin_mfa: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "log_events": self.log_events,
            "events": self.events,
            "events_new": self.events_new,
            "findings": len(self.findings),
            "findings_new": self.findings_new,
            "published": self.published,
            "redis_round_trips": self.redis_round_trips,
            "by_kind": self.by_kind,
        }


def process(
    conn: psycopg.Connection[Any] | None,
    client: redis.Redis,
    events: Sequence[SecurityEvent],
    settings: SecuritySettings,
    publish: Publisher | None,
) -> Outcome:
    """Store (when `conn`), correlate, store and publish (when `publish`) one batch. Without a
    connection and a publisher it only correlates (the replay, the benchmark)."""
    started = time.perf_counter()
    outcome = Outcome(events=len(events))
    for event in events:
        outcome.by_kind[event.kind] = outcome.by_kind.get(event.kind, 0) + 1
        if event.kind == "mfa_failed" and event.is_admin and event.details.get("directory") == "marketplace":
            outcome.marketplace_admin_mfa += 1
        known = outcome.severity_by_kind.get(event.kind)
        if known is None or Severity(known).rank < event.severity.rank:
            outcome.severity_by_kind[event.kind] = event.severity.value
    if conn is not None:
        with conn.transaction():
            outcome.events_new = store_events(conn, events)
    correlation = correlate(client, events, settings)
    outcome.redis_round_trips = correlation.round_trips
    to_publish: list[Finding] = []
    if conn is None:
        outcome.findings = correlation.findings
    else:
        with conn.transaction():
            for finding in correlation.findings:
                stored, created = store_finding(conn, finding)
                outcome.findings.append(stored)
                outcome.findings_new += int(created)
                if created:
                    outcome.new_findings.append(stored)
                if stored.status == "open":
                    to_publish.append(stored)
    if publish is not None and to_publish:
        publish(to_publish)
        outcome.published = len(to_publish)
    outcome.seconds = time.perf_counter() - started
    return outcome


def process_subscription(
    event: Any,
    conn: psycopg.Connection[Any] | None,
    client: redis.Redis,
    settings: SecuritySettings,
    publish: Publisher | None,
) -> Outcome:
    """A CloudWatch Logs subscription delivery (ValidationFailed when it is not one)."""
    batch = decode_subscription(event)
    outcome = process(conn, client, batch.events, settings, publish)
    outcome.log_events = batch.log_events
    return outcome


def process_sources(
    conn: psycopg.Connection[Any], client: redis.Redis, settings: SecuritySettings, publish: Publisher | None
) -> dict[str, Outcome]:
    """Poll each database source from its cursor, process what it read, then move its cursor."""
    outcomes: dict[str, Outcome] = {}
    for source in polling.SOURCES:
        polled = polling.poll(
            conn, source, overlap_s=settings.siem_poll_overlap_s, geo_velocity_s=settings.siem_geo_velocity_s
        )
        outcome = process(conn, client, polled.events, settings, publish)
        outcome.log_events = polled.rows
        with conn.transaction():
            polling.save_cursor(conn, polled)
        outcomes[source.name] = outcome
    return outcomes

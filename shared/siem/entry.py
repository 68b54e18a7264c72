"""The SIEM function's work, for functions/siem/handler.py and the local stack: a CloudWatch Logs
subscription delivery, or (a scheduled event) a poll of the database sources. The events are counted
per kind (one log line per kind, with its highest severity) and each new finding is logged, all with
`event_type` and `severity` (the dashboard's SIEM feed, section 6, queries those fields); the security metrics
(spec 7.3) are emitted per invocation. A scheduled poll also anchors the audit chain's head outside the
database (shared/audit/anchor.py): a chain that no longer holds the last anchor is a CRITICAL event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import redis
from aws_lambda_powertools.metrics import MetricUnit

from shared.audit.anchor import AnchorOutcome, AnchorStore, advance, open_anchor
from shared.config import SecuritySettings, get_security_settings
from shared.errors import ConfigurationError
from shared.observability import logger, metrics
from shared.siem.service import Outcome, Publisher, process_sources, process_subscription

FINDING_METRIC = {
    "brute_force": "SecurityFindingsBruteForce",
    "fraud_ring": "SecurityFindingsFraudRing",
    "ddos": "SecurityFindingsDdos",
    "admin_mfa": "SecurityFindingsAdminMfa",
}
KIND_METRIC = {
    "login_failed": "FailedLogins",
    "mfa_failed": "FailedMfa",
    "rate_limited": "RateLimitedRequests",
    "geo_velocity": "GeoVelocityAnomalies",
    "fraud_decision": "FraudBlocks",
}


@dataclass
class SiemDeps:
    connect: Callable[[], psycopg.Connection[Any]]
    redis: redis.Redis
    publish: Publisher | None
    settings: SecuritySettings
    anchor: AnchorStore | None = field(default=None)  # the audit chain's head outside the database


def default_deps() -> SiemDeps:
    from shared.cache.clients import job_redis
    from shared.db import connect
    from shared.db.timeouts import STATEMENT_TIMEOUT_MS

    client = job_redis()
    if client is None:
        raise ConfigurationError("the SIEM needs Redis (REDIS_URL): its correlation windows live there")
    settings = get_security_settings()
    return SiemDeps(
        lambda: connect(autocommit=True, statement_timeout_ms=STATEMENT_TIMEOUT_MS["siem"]),
        client,
        _eventbridge(settings.siem_event_bus),
        settings,
        open_anchor(),
    )


def _eventbridge(bus: str) -> Publisher:
    import boto3

    from shared.siem.publish import eventbridge_publisher

    publisher: Publisher = eventbridge_publisher(boto3.client("events"), bus)
    return publisher


def run(event: dict[str, Any], deps: SiemDeps) -> dict[str, Any]:
    """Process one invocation's event; the summary the handler returns."""
    anchored: AnchorOutcome | None = None
    with deps.connect() as conn:
        if "awslogs" in event:
            outcomes = {"logs": process_subscription(event, conn, deps.redis, deps.settings, deps.publish)}
        else:
            outcomes = process_sources(conn, deps.redis, deps.settings, deps.publish)
            anchored = advance(conn, deps.anchor) if deps.anchor else None
    for outcome in outcomes.values():
        record(outcome)
    summary: dict[str, Any] = {name: outcome.summary() for name, outcome in outcomes.items()}
    if anchored is not None:
        summary["audit_anchor"] = record_anchor(anchored)
    return summary


def record_anchor(outcome: AnchorOutcome) -> dict[str, Any]:
    """AuditChainBroken (its alarm pages: shared/oncall/alarms.yaml) and a CRITICAL SIEM-feed line when
    the chain no longer holds its anchor; the step's summary."""
    metrics.add_metric(name="AuditChainBroken", unit=MetricUnit.Count, value=1 if outcome.problems else 0)
    anchored = outcome.anchored
    summary = {
        "seq": anchored.seq if anchored else None,
        "advanced": outcome.advanced,
        "problems": outcome.problems,
    }
    if outcome.problems:
        logger.error(
            "audit chain anchor broken",
            extra={"event_type": "audit_chain_broken", "severity": "CRITICAL", **summary},
        )
    return summary


def record(outcome: Outcome) -> None:
    """The invocation's security metrics and its SIEM-feed log lines."""
    metrics.add_metric(name="SecurityEvents", unit=MetricUnit.Count, value=outcome.events_new)
    for kind in KIND_METRIC:
        if outcome.by_kind.get(kind):
            metrics.add_metric(name=KIND_METRIC[kind], unit=MetricUnit.Count, value=outcome.by_kind[kind])
    if outcome.marketplace_admin_mfa:
        # The failed-admin-mfa alarm adds this to Cognito's own count (infra/security.py's metric filter);
        # Cognito's failures reach the SIEM too, and are not counted here twice.
        metrics.add_metric(name="FailedAdminMfa", unit=MetricUnit.Count, value=outcome.marketplace_admin_mfa)
    for kind, count in outcome.by_kind.items():
        severity = outcome.severity_by_kind[kind]
        logger.info("security events", extra={"event_type": kind, "severity": severity, "count": count})
    for finding in outcome.new_findings:
        metrics.add_metric(name=FINDING_METRIC[finding.rule], unit=MetricUnit.Count, value=1)
        logger.warning(
            "security finding",
            extra={
                "event_type": f"finding:{finding.rule}",
                "severity": finding.severity.value,
                "finding_id": finding.finding_id,
                "subject": f"{finding.subject_kind}:{finding.subject}",
                "events": finding.event_count,
            },
        )

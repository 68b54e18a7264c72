"""The SOAR function's work, for functions/soar/handler.py and the local stack: a `Security finding`
event from EventBridge (the finding as its detail; the stored finding is the one acted on), or a
scheduled event (the lift job: lapsed blocks and challenges removed from the blocklist and WAF)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import redis
from aws_lambda_powertools.metrics import MetricUnit

from shared.config import SecuritySettings, get_security_settings, get_settings
from shared.errors import NotFound, ValidationFailed
from shared.observability import logger, metrics
from shared.siem.models import Finding
from shared.siem.publish import DETAIL_TYPE
from shared.siem.store import get_finding
from shared.soar.aws import AwsEffectors, Effectors, IpSetRef
from shared.soar.responses import Response, lift_expired, respond

DONE_METRIC = {
    "block_ip": "IpsBlocked",
    "blacklist_wallet": "WalletsBlacklisted",
    "challenge_ip": "IpsChallenged",
    "disable_admin": "AdminAccountsLocked",
    "page": "SecurityPages",
}
SETTLED_METRIC = {"skipped": "SoarActionsSkipped", "failed": "SoarActionsFailed"}


@dataclass
class SoarDeps:
    connect: Callable[[], psycopg.Connection[Any]]
    redis: redis.Redis | None
    effectors: Effectors
    settings: SecuritySettings


def aws_effectors(settings: SecuritySettings) -> AwsEffectors:
    """Effectors over boto3 clients, configured from the environment (the CDK stack sets it)."""
    import boto3

    base = get_settings()
    sets = {}
    if base.waf_ip_set_name and base.waf_ip_set_id:
        sets["ip"] = IpSetRef(base.waf_ip_set_name, base.waf_ip_set_id, base.waf_scope)
    if settings.waf_challenge_ip_set_name and settings.waf_challenge_ip_set_id:
        sets["challenge"] = IpSetRef(
            settings.waf_challenge_ip_set_name, settings.waf_challenge_ip_set_id, base.waf_scope
        )
    topics = {
        name: arn
        for name, arn in (
            ("critical", base.alert_topic_arn_critical),
            ("high", base.alert_topic_arn_high),
            ("medium", base.alert_topic_arn_medium),
        )
        if arn
    }
    return AwsEffectors(
        wafv2=boto3.client("wafv2"),
        sns=boto3.client("sns"),
        cognito=boto3.client("cognito-idp") if settings.cognito_user_pool_id else None,
        ip_sets=sets,
        topics=topics,
        user_pool_id=settings.cognito_user_pool_id,
    )


def default_deps() -> SoarDeps:
    from shared.cache.clients import job_redis
    from shared.db import connect
    from shared.db.timeouts import STATEMENT_TIMEOUT_MS

    settings = get_security_settings()
    return SoarDeps(
        lambda: connect(autocommit=True, statement_timeout_ms=STATEMENT_TIMEOUT_MS["soar"]),
        job_redis(),
        aws_effectors(settings),
        settings,
    )


def finding_of(event: dict[str, Any]) -> Finding:
    """The finding an EventBridge `Security finding` event carries (detail: an object or JSON text)."""
    detail = event.get("detail")
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            raise ValidationFailed("detail is a string but not JSON", field="detail") from None
    if not isinstance(detail, dict):
        raise ValidationFailed("detail must be an object (a finding)", field="detail")
    finding = Finding.model_validate(detail)
    if finding.finding_id is None:
        raise ValidationFailed(
            "the finding has no finding_id: only stored findings are acted on", field="detail"
        )
    return finding


def run(event: dict[str, Any], deps: SoarDeps) -> dict[str, Any]:
    with deps.connect() as conn:
        if event.get("detail-type") != DETAIL_TYPE:
            summary = lift_expired(conn, deps.effectors)
            metrics.add_metric(name="BlocksLifted", unit=MetricUnit.Count, value=summary["lifted"])
            return summary
        delivered = finding_of(event)
        finding = get_finding(conn, delivered.finding_id or 0)
        if finding is None:
            raise NotFound(f"finding {delivered.finding_id} is not stored")
        response = respond(conn, finding, deps.effectors, deps.settings, deps.redis)
    record(response)
    return {"finding_id": response.finding_id, "actions": response.counts()}


def record(response: Response) -> None:
    for action in response.actions:
        if action.status == "done":
            metrics.add_metric(name=DONE_METRIC[action.action], unit=MetricUnit.Count, value=1)
        elif action.status in SETTLED_METRIC:
            metrics.add_metric(name=SETTLED_METRIC[action.status], unit=MetricUnit.Count, value=1)
    logger.info(
        "soar response",
        extra={
            "event_type": "soar_response",
            "severity": "INFO",
            "finding_id": response.finding_id,
            "actions": response.counts(),
        },
    )

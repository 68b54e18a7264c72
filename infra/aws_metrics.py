"""Metrics of the AWS services TicketGuard runs on, by the names of what they watch (no construct
references: the monitoring stack names what it watches, see infra/stacks.py MonitoringStack)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch


def lambda_metric(
    function: str,
    name: str,
    label: str | None = None,
    *,
    statistic: str = "Sum",
    period: Duration | None = None,
) -> cloudwatch.Metric:
    """A Lambda function's metric (Errors, Throttles, Duration ...) by its deployed name."""
    return cloudwatch.Metric(
        namespace="AWS/Lambda",
        metric_name=name,
        dimensions_map={"FunctionName": function},
        statistic=statistic,
        period=period or Duration.minutes(5),
        label=label,
    )


def api_metric(api_name: str, stage: str, name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
    """A REST API stage's metric (Count, 4XXError, 5XXError, Latency ...)."""
    return cloudwatch.Metric(
        namespace="AWS/ApiGateway",
        metric_name=name,
        dimensions_map={"ApiName": api_name, "Stage": stage},
        statistic=statistic,
        period=period,
    )


def waf_blocked_requests(
    web_acl: str, region: str, rule: str, period: Duration, label: str | None = None
) -> cloudwatch.Metric:
    """Requests the web ACL blocked, by one rule or by all (`ALL`)."""
    return cloudwatch.Metric(
        namespace="AWS/WAFV2",
        metric_name="BlockedRequests",
        dimensions_map={"WebACL": web_acl, "Rule": rule, "Region": region},
        statistic="Sum",
        period=period,
        label=label,
    )


def postgres_metric(
    instance: str, name: str, statistic: str, period: Duration | None = None
) -> cloudwatch.Metric:
    """An RDS instance's metric (CPUUtilization, FreeStorageSpace, DatabaseConnections ...)."""
    return cloudwatch.Metric(
        namespace="AWS/RDS",
        metric_name=name,
        dimensions_map={"DBInstanceIdentifier": instance},
        statistic=statistic,
        period=period,
    )


def redis_metric(
    replication_group: str, name: str, statistic: str = "Average", period: Duration | None = None
) -> cloudwatch.Metric:
    """An ElastiCache replication group's metric (EngineCPUUtilization, Evictions ...)."""
    return cloudwatch.Metric(
        namespace="AWS/ElastiCache",
        metric_name=name,
        dimensions_map={"ReplicationGroupId": replication_group},
        statistic=statistic,
        period=period,
    )

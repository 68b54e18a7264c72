"""Metrics of the AWS services TicketGuard runs on, by the names of what they watch (no construct
references: the monitoring stack names what it watches, see infra/stacks.py MonitoringStack)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch


def aws_metric(
    namespace: str,
    dimensions: dict[str, str],
    name: str,
    statistic: str,
    period: Duration | None = None,
    label: str | None = None,
) -> cloudwatch.Metric:
    """A metric an AWS service publishes, by the dimensions that name what it watches."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=period,
        label=label,
    )


def lambda_metric(
    function: str,
    name: str,
    label: str | None = None,
    *,
    statistic: str = "Sum",
    period: Duration | None = None,
) -> cloudwatch.Metric:
    """A Lambda function's metric (Errors, Throttles, Duration ...) by its deployed name."""
    dimensions = {"FunctionName": function}
    return aws_metric("AWS/Lambda", dimensions, name, statistic, period or Duration.minutes(5), label)


def api_metric(api_name: str, stage: str, name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
    """A REST API stage's metric (Count, 4XXError, 5XXError, Latency ...)."""
    return aws_metric("AWS/ApiGateway", {"ApiName": api_name, "Stage": stage}, name, statistic, period)


def waf_blocked_requests(
    web_acl: str, region: str, rule: str, period: Duration, label: str | None = None
) -> cloudwatch.Metric:
    """Requests the web ACL blocked, by one rule or by all (`ALL`)."""
    dimensions = {"WebACL": web_acl, "Rule": rule, "Region": region}
    return aws_metric("AWS/WAFV2", dimensions, "BlockedRequests", "Sum", period, label)


def postgres_metric(
    instance: str, name: str, statistic: str, period: Duration | None = None
) -> cloudwatch.Metric:
    """An RDS instance's metric (CPUUtilization, FreeStorageSpace, DatabaseConnections ...)."""
    return aws_metric("AWS/RDS", {"DBInstanceIdentifier": instance}, name, statistic, period)


def redis_metric(
    replication_group: str, name: str, statistic: str = "Average", period: Duration | None = None
) -> cloudwatch.Metric:
    """An ElastiCache replication group's metric (EngineCPUUtilization, Evictions ...)."""
    return aws_metric("AWS/ElastiCache", {"ReplicationGroupId": replication_group}, name, statistic, period)

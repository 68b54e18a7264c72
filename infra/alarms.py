"""One way to make an alarm that pages: named ticketguard-<env>-<name>, missing data is no breach,
and the severity's topic hears both when it fires and when it clears."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


def paging_alarm(
    scope: Construct,
    construct_id: str,
    *,
    environment: str,
    name: str,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    topic: sns.ITopic,
    comparison: cloudwatch.ComparisonOperator = ABOVE,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
) -> cloudwatch.Alarm:
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=f"ticketguard-{environment}-{name}",
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison_operator=comparison,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    notify = actions.SnsAction(topic)
    alarm.add_alarm_action(notify)
    alarm.add_ok_action(notify)
    return alarm


def failed_executions(state_machine_arn: str, period: Duration, label: str) -> cloudwatch.MathExpression:
    """A state machine's executions that failed, timed out or were aborted, summed per period."""
    machine = {"StateMachineArn": state_machine_arn}
    return cloudwatch.MathExpression(
        expression="FILL(failed, 0) + FILL(timedout, 0) + FILL(aborted, 0)",
        using_metrics={
            name: cloudwatch.Metric(
                namespace="AWS/States",
                metric_name=metric,
                dimensions_map=machine,
                statistic="Sum",
                period=period,
            )
            for name, metric in (
                ("failed", "ExecutionsFailed"),
                ("timedout", "ExecutionsTimedOut"),
                ("aborted", "ExecutionsAborted"),
            )
        },
        period=period,
        label=label,
    )

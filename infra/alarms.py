"""One way to make an alarm that pages: named ticketguard-<env>-<name>, missing data is no breach (but
for a heartbeat's alarm, as its definition says), and the severity's topic hears both when it fires and when it clears.

Every alarm is defined in shared/oncall/alarms.yaml (issue 27): `paging_alarm` refuses a name that is not
there, and writes the definition's severity, action and runbook link into the alarm's description, so
that whoever is paged reads what to do. The runbook links start with the CDK context value
`runbook_base_url` (cdk.json), relative to the repository without it."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.oncall.definitions import ACTIONS, load_alarm_book

ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
DESCRIPTION_LIMIT = 1024  # CloudWatch's AlarmDescription
MISSING_DATA = {
    "not_breaching": cloudwatch.TreatMissingData.NOT_BREACHING,
    "breaching": cloudwatch.TreatMissingData.BREACHING,  # a heartbeat's absence (alarms.yaml missing_data)
}


def runbook_link(scope: Construct, runbook_path: str) -> str:
    base = str(scope.node.try_get_context("runbook_base_url") or "").rstrip("/")
    return f"{base}/{runbook_path}" if base else runbook_path


def on_call_description(
    scope: Construct, description: str, *, severity: str, action: str, runbook_path: str
) -> str:
    """`description`, then the severity, what the alarm does (action) and its runbook's link."""
    tail = f" | {severity.upper()} | action: {ACTIONS[action]} | runbook: {runbook_link(scope, runbook_path)}"
    return description[: DESCRIPTION_LIMIT - len(tail)] + tail


def paging_alarm(
    scope: Construct,
    construct_id: str,
    *,
    environment: str,
    name: str,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    topic: sns.ITopic | None,
    comparison: cloudwatch.ComparisonOperator = ABOVE,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
    definition: str | None = None,
) -> cloudwatch.Alarm:
    """The alarm `name`, as shared/oncall/alarms.yaml defines `definition` (default: `name`; one
    definition may make several alarms, one per function). `topic` None: a composite alarm pages for it."""
    defined = load_alarm_book().alarm(definition or name)
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=f"ticketguard-{environment}-{name}",
        alarm_description=on_call_description(
            scope,
            description,
            severity=defined.severity,
            action=defined.action,
            runbook_path=defined.runbook_path,
        ),
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison_operator=comparison,
        treat_missing_data=MISSING_DATA[defined.missing_data],
    )
    if topic is not None:
        notify = actions.SnsAction(topic)
        alarm.add_alarm_action(notify)
        alarm.add_ok_action(notify)
    return alarm


def alarm_state_rule(
    scope: Construct,
    construct_id: str,
    *,
    environment: str,
    rule_name: str,
    description: str,
    alarms: Iterable[str],
    function: lambda_.IFunction,
    dead_letters: sqs.IQueue,
) -> events.Rule:
    """An EventBridge rule `ticketguard-<env>-<rule_name>`: the `alarms` (by their names, as `paging_alarm`
    makes them: they may live in a stack deployed later) entering ALARM -> `function`, two retries within
    an hour, then the dead-letter queue."""
    rule = events.Rule(
        scope,
        construct_id,
        rule_name=f"ticketguard-{environment}-{rule_name}",
        description=description,
        event_pattern=events.EventPattern(
            source=["aws.cloudwatch"],
            detail_type=["CloudWatch Alarm State Change"],
            detail={
                "alarmName": [f"ticketguard-{environment}-{name}" for name in alarms],
                "state": {"value": ["ALARM"]},
            },
        ),
    )
    rule.add_target(
        targets.LambdaFunction(
            function, dead_letter_queue=dead_letters, retry_attempts=2, max_event_age=Duration.hours(1)
        )
    )
    return rule


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

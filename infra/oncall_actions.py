"""Alerts that act (issue 27, spec 4.2), in the service stack beside the functions:
- the alarms whose action is `tighten-2fa` (shared/oncall/alarms.yaml) -> EventBridge rule on their state
  changes -> the oncall_actions function (shared/oncall/actions.py: REQUIRE_2FA tightened for a fixed
  time). By name: the alarms live in the monitoring stack, deployed after this one.
- `retrain`: the model-ops job's rule (infra/retrain.py `_alarm_trigger`); `lock-account`: the SIEM/SOAR."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.oncall.definitions import load_alarm_book


class OnCallActions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        function: lambda_.IFunction,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        names = [
            f"ticketguard-{environment}-{alarm.name}"
            for alarm in load_alarm_book().alarms
            if alarm.action == "tighten-2fa"
        ]
        self.rule = events.Rule(
            self,
            "AlarmActions",
            rule_name=f"ticketguard-{environment}-oncall-actions",
            description="Alarms that act -> the oncall_actions function (REQUIRE_2FA tightening)",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": names, "state": {"value": ["ALARM"]}},
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                function, dead_letter_queue=dead_letters, retry_attempts=2, max_event_age=Duration.hours(1)
            )
        )

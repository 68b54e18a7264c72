"""Alerts that act (issue 27, spec 4.2), in the service stack beside the functions:
- the alarms whose action is `tighten-2fa` (shared/oncall/alarms.yaml) -> EventBridge rule on their state
  changes -> the oncall_actions function (shared/oncall/actions.py: REQUIRE_2FA tightened for a fixed
  time). By name: the alarms live in the monitoring stack, deployed after this one.
- `retrain`: the model-ops job's rule (infra/retrain.py `_alarm_trigger`); `lock-account`: the SIEM/SOAR."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.alarms import alarm_state_rule
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
        self.rule = alarm_state_rule(
            self,
            "AlarmActions",
            environment=environment,
            rule_name="oncall-actions",
            description="Alarms that act -> the oncall_actions function (REQUIRE_2FA tightening)",
            alarms=[alarm.name for alarm in load_alarm_book().alarms if alarm.action == "tighten-2fa"],
            function=function,
            dead_letters=dead_letters,
        )

"""EventBridge schedules of the batch jobs (spec 6.3), all in UTC, one rule per row of the schedules
table (shared/jobs/schedules.yaml), which the local timers of `make run` read too.

Rows naming a state machine instead of a function (the bi-weekly retraining) get their rule from the
construct that owns that state machine (infra/retrain.py), from the same row. A row with `rounds` (the
retention job) starts a Step Functions loop that invokes its function round after round (infra/rounds.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.rounds import RoundsLoop
from shared.jobs.schedules import SCHEDULES


class Jobs(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        dead_letters: sqs.IQueue,
        environment: str,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rules: dict[str, events.Rule] = {}
        self.loops: dict[str, RoundsLoop] = {}
        for schedule in SCHEDULES:
            function = functions.get(schedule.function) if schedule.function else None
            if function is None:
                continue  # not deployed (see the synth warnings); its schedule would have no target
            rule = events.Rule(
                self,
                "".join(part.capitalize() for part in schedule.name.split("-")),
                rule_name=f"ticketguard-{environment}-{schedule.name}",
                description=schedule.description,
                schedule=events.Schedule.expression(schedule.expression),
            )
            payload = dict(schedule.payload or {})
            if schedule.with_time:
                payload["scheduled_at"] = events.EventField.time
            target_input = events.RuleTargetInput.from_object(payload) if payload else None
            if schedule.rounds:
                # The rule starts the loop that invokes the function round after round (infra/rounds.py).
                loop = RoundsLoop(
                    self,
                    f"{rule.node.id}Rounds",
                    environment=environment,
                    job=schedule.name,
                    function=function,
                    key=key,
                )
                self.loops[schedule.name] = loop
                target: events.IRuleTarget = targets.SfnStateMachine(
                    loop.state_machine,
                    input=target_input,
                    dead_letter_queue=dead_letters,
                    retry_attempts=2,
                    max_event_age=Duration.hours(2),
                )
            else:
                target = targets.LambdaFunction(
                    function,
                    event=target_input,
                    dead_letter_queue=dead_letters,
                    retry_attempts=2,
                    max_event_age=Duration.hours(2),
                )
            rule.add_target(target)
            self.rules[schedule.name] = rule

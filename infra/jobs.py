"""EventBridge schedules of the batch jobs (spec 6.3), all in UTC.

Bi-weekly retraining: cron cannot say "every other Sunday" (the spec's `0 2 */14 * *` means days
1, 15 and 29 of each month, not every second Sunday). The rule fires every Sunday at 02:00 UTC with
the input `{"cadence": "biweekly"}`, and the retrain handler trains only in even ISO weeks; an
emergency retrain (drift) invokes it without that input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct


@dataclass(frozen=True)
class Schedule:
    name: str
    function: str
    expression: str
    description: str
    payload: Mapping[str, Any] | None = None  # the rule's constant input (None: EventBridge's own event)
    # Add the rule's firing time to the payload as `scheduled_at` (the feature jobs snapshot by it).
    with_time: bool = False


# The ETL room's jobs take `{"mode": "hourly" | "daily"}` (shared.etl.jobs.ScheduledJob), the same
# inputs as the local timers of shared/local/schedules.py. Hourly runs skip 02:00, when the daily run
# of the same job does the full pass; features follow the ETL by the publish delays of
# shared/features/cadence.py, which the training-set builder assumes (a test holds them equal).
SCHEDULES = (
    Schedule("etl-daily", "etl", "cron(0 2 * * ? *)", "Daily full ETL at 02:00 UTC", {"mode": "daily"}),
    Schedule("etl-hourly", "etl", "cron(0 0-1,3-23 * * ? *)", "Hourly incremental ETL", {"mode": "hourly"}),
    Schedule(
        "features-daily",
        "features",
        "cron(20 2 * * ? *)",
        "Daily batch features after the ETL",
        {"mode": "daily"},
        with_time=True,
    ),
    Schedule(
        "features-hourly",
        "features",
        "cron(20 0-1,3-23 * * ? *)",
        "Hourly feature updates",
        {"mode": "hourly"},
        with_time=True,
    ),
    Schedule("refresh-views", "refresh_views", "rate(5 minutes)", "Refresh the KPI materialized views"),
    Schedule("retention", "retention", "cron(0 3 ? * SUN *)", "Weekly retention, Sunday 03:00 UTC"),
    Schedule(
        "retrain",
        "retrain",
        "cron(0 2 ? * SUN *)",
        "Retraining, Sundays 02:00 UTC; the handler trains on even ISO weeks only (bi-weekly)",
        {"cadence": "biweekly"},
    ),
)


class Jobs(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        dead_letters: sqs.IQueue,
        environment: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rules: dict[str, events.Rule] = {}
        for schedule in SCHEDULES:
            function = functions.get(schedule.function)
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
            rule.add_target(
                targets.LambdaFunction(
                    function,
                    event=events.RuleTargetInput.from_object(payload) if payload else None,
                    dead_letter_queue=dead_letters,
                    retry_attempts=2,
                    max_event_age=Duration.hours(2),
                )
            )
            self.rules[schedule.name] = rule

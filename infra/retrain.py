"""The retraining pipeline (spec 1.6 / 6.3) and the model distribution, with nothing built on the
deploying machine: no Docker, no image.

    EventBridge (the `retrain` row of shared/jobs/schedules.yaml: Sundays 02:00 UTC, {"cadence": "biweekly"})
      -> Step Functions `ticketguard-<env>-retrain`
         1. ExportTrainingSet  Lambda retrain_export (VPC, database): odd ISO week -> NotThisWeek; else the
                               point-in-time training set -> s3://<archive>/retrain-runs/<run>/training-set.csv.gz
         2. TrainEvaluateCompile  CodeBuild, an AWS-managed Amazon Linux 2023 image of the functions'
                               architecture; source: this project as an S3 asset (a zip, no Docker); the
                               buildspec installs requirements/retrain-<arch>.txt and runs
                               `ticketguard train --training-set ... --registry s3://<archive>/models/ --outcome ...`:
                               gate against the served model (the registry's CURRENT, else the shipped one),
                               upload the candidate to models/<version>/ (never CURRENT)
         3. Publish            Lambda retrain_publish: a promoted candidate is fetched, verified and loaded as
                               the scoring function will; then it runs in shadow (models/ROLLOUT.json names
                               it; CURRENT is unchanged until a person promotes it) -> Promoted | Refused
         The outcome is paged: Promoted, Refused and Failed (any step's error) publish to the MEDIUM topic.
      Emergency retraining (issue 17): the model-ops function receives the state changes of the model-drift and
      model-detection-drop alarms (an EventBridge rule, `AlarmTrigger`) and, past its cooldown, starts the
      same state machine with {"reason": "drift" | "detection_drop", "detail": {...}} (no cadence: it always
      trains); the same rule hands it the fraud-rate and latency alarms, which roll a canary back.

Model distribution: score, health and features get TG_MODEL_REGISTRY and read-only access to models/CURRENT,
the manifests and their architecture's library; shared/model/remote.py serves the CURRENT version, verified,
and falls back to the model layer (TG_MODEL_DIR). Rollback = rewrite models/CURRENT (or delete it).

Alarms (MEDIUM): a failed, timed-out or aborted execution; a failed build.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.alarms import AT_LEAST, alarm_state_rule, failed_executions, paging_alarm
from infra.aws_metrics import aws_metric
from infra.config import EnvironmentConfig
from infra.keys import key_use
from infra.log_groups import encrypted_log_group
from infra.model_access import ArchiveAccess
from infra.nag import acknowledge, finding_text
from infra.retrain_build import acknowledge_default_policy, training_project
from shared.jobs.schedules import SCHEDULES
from shared.model.layout import RUNS_PREFIX

RUN_DATA_DAYS = 30
# The state machine's input for an emergency retraining (shared/jobs/model_ops.py starts executions with it).
EMERGENCY_INPUT_EXAMPLE = {"reason": "drift", "detail": {"model_drift_kl": 0.21}}
# Alarms (infra/monitoring.py) that, firing while a canary decides a share of the purchases, roll it back.
CANARY_ROLLBACK_ALARMS = ("fraud-rate-spike", "api-latency-high")


def expire_run_data(bucket: s3.Bucket) -> None:
    """A run's training set and outcome are scratch data (the version's report keeps the figures)."""
    bucket.add_lifecycle_rule(
        id=RUNS_PREFIX.rstrip("/"),
        prefix=RUNS_PREFIX,
        expiration=Duration.days(RUN_DATA_DAYS),
        noncurrent_version_expiration=Duration.days(1),
    )


class RetrainPipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        functions: Mapping[str, lambda_.Function],
        archive_bucket_name: str,
        data_key: kms.IKey,
        key: kms.IKey,
        topics: Mapping[str, sns.ITopic],
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.access = ArchiveAccess(
            self, bucket_name=archive_bucket_name, data_key=data_key, architecture=config.architecture
        )
        export, publish = functions["retrain_export"], functions["retrain_publish"]
        self.model_readers = self.access.model_readers(functions)
        self.access.export_step(export, archive_bucket_name)
        self.access.publish_step(publish)
        publish.add_environment("TG_RETRAIN_PUBLISH_TO", "shadow")  # a new version runs in shadow first
        self.project = self._build_project(key)
        self.state_machine = self._state_machine(export, publish, key, topics["medium"], data_key)
        self.rule = self._schedule(dead_letters)
        self.alarms = self._alarms(topics["medium"])
        self.alarm_rule: events.Rule | None = None
        if "admin" in functions:
            self.access.registry_operator(functions["admin"])
        model_ops = functions.get("model_ops")
        if model_ops is not None:
            self.access.rollout_writer(model_ops)
            model_ops.add_environment("TG_RETRAIN_STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
            self.state_machine.grant_start_execution(model_ops)
            self.alarm_rule = self._alarm_trigger(model_ops, dead_letters)

    # ------------------------------------------------------------------ build
    def _build_project(self, key: kms.IKey) -> codebuild.Project:
        project = training_project(self, config=self.config, registry_uri=self.access.registry_uri, key=key)
        self.access.build(project.role)
        acknowledge_default_policy(project)
        return project

    # ------------------------------------------------------------------ orchestration
    def _page(self, name: str, topic: sns.ITopic, subject: str) -> tasks.SnsPublish:
        """A step that publishes the execution's outcome to the topic (its state as JSON)."""
        return tasks.SnsPublish(
            self,
            f"Page{name}",
            comment=f"Page the outcome: {subject}",
            topic=topic,
            subject=f"TicketGuard {self.config.name}: retraining {subject}",
            message=sfn.TaskInput.from_json_path_at("$"),
            result_path=sfn.JsonPath.DISCARD,
        )

    def _state_machine(
        self,
        export: lambda_.Function,
        publish: lambda_.Function,
        key: kms.IKey,
        topic: sns.ITopic,
        data_key: kms.IKey,
    ) -> sfn.StateMachine:
        export_step, train_step, publish_step = (
            self._export_step(export),
            self._train_step(),
            self._publish_step(publish),
        )
        failed = self._page("Failed", topic, "FAILED").next(
            sfn.Fail(
                self, "Failed", comment="A step failed: the served model is unchanged", error="RetrainFailed"
            )
        )
        for step in (export_step, train_step, publish_step):
            step.add_catch(failed, result_path="$.error")
        plan = (
            sfn.Choice(self, "TrainsThisRun")
            .when(
                sfn.Condition.string_equals("$.export.status", "skipped"),
                sfn.Succeed(self, "NotThisWeek", comment="Bi-weekly: odd ISO weeks do not train"),
            )
            .otherwise(train_step.next(publish_step).next(self._outcome(topic)))
        )
        log_group = encrypted_log_group(self, "StateMachineLogs", key=key)
        machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=f"ticketguard-{self.config.name}-retrain",
            comment=(
                'Retraining. Input: {"cadence": "biweekly"} (the schedule: even ISO weeks train), or for an '
                'emergency retraining {"reason": "drift" | "detection_drop" | "manual", "detail": {...}} '
                '(always trains); optional "weeks" (3..52), "time" (ISO instant).'
            ),
            definition_body=sfn.DefinitionBody.from_chainable(export_step.next(plan)),
            timeout=Duration.hours(3),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        # The topics are encrypted with the data key: publishing needs it, through SNS only.
        machine.add_to_role_policy(key_use(self, "PageTopicKey", data_key, "sns"))
        self._acknowledge_machine(machine, (export, publish))
        return machine

    def _export_step(self, export: lambda_.Function) -> tasks.LambdaInvoke:
        step = tasks.LambdaInvoke(
            self,
            "ExportTrainingSet",
            comment="Odd ISO week of the bi-weekly schedule: skip; else export the training set to S3",
            lambda_function=export,
            payload=sfn.TaskInput.from_object(
                {
                    "request": sfn.JsonPath.entire_payload,
                    "run_id": sfn.JsonPath.execution_name,
                    "started_at": sfn.JsonPath.execution_start_time,
                }
            ),
            payload_response_only=True,
            result_path="$.export",
            task_timeout=sfn.Timeout.duration(Duration.minutes(16)),
        )
        # The database may be restarting (maintenance, a failover): try again later, twice.
        step.add_retry(
            errors=["DependencyUnavailable"], interval=Duration.minutes(5), max_attempts=2, backoff_rate=2
        )
        return step

    def _train_step(self) -> tasks.CodeBuildStartBuild:
        variable = codebuild.BuildEnvironmentVariable
        return tasks.CodeBuildStartBuild(
            self,
            "TrainEvaluateCompile",
            comment="`ticketguard train --training-set ... --registry ...` on CodeBuild: gate, compile, upload",
            project=self.project,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            environment_variables_override={
                "TG_TRAINING_SET": variable(value=sfn.JsonPath.string_at("$.export.training_set")),
                "TG_OUTCOME": variable(value=sfn.JsonPath.string_at("$.export.outcome")),
                "TG_TRAINING_SOURCE": variable(value=sfn.JsonPath.string_at("$.export.source")),
            },
            result_selector={"id": sfn.JsonPath.string_at("$.Build.Id")},
            result_path="$.build",
            task_timeout=sfn.Timeout.duration(Duration.hours(2)),
        )

    def _publish_step(self, publish: lambda_.Function) -> tasks.LambdaInvoke:
        return tasks.LambdaInvoke(
            self,
            "Publish",
            comment="A promoted candidate: fetch, verify and load it as scoring will, then move models/CURRENT",
            lambda_function=publish,
            payload=sfn.TaskInput.from_object(
                {"run_id": sfn.JsonPath.execution_name, "outcome": sfn.JsonPath.string_at("$.export.outcome")}
            ),
            payload_response_only=True,
            result_path="$.publish",
            task_timeout=sfn.Timeout.duration(Duration.minutes(5)),
        )

    def _outcome(self, topic: sns.ITopic) -> sfn.Choice:
        """Promoted (in shadow) or refused by the gate: either way paged."""
        return (
            sfn.Choice(self, "PromotedOrRefused")
            .when(
                sfn.Condition.string_equals("$.publish.status", "promoted"),
                self._page("Promoted", topic, "promoted (shadow)").next(
                    sfn.Succeed(
                        self, "Promoted", comment="models/ROLLOUT.json runs the new version in shadow"
                    )
                ),
            )
            .otherwise(
                self._page("Refused", topic, "refused").next(
                    sfn.Succeed(
                        self,
                        "Refused",
                        comment="Refused by the gate (or the served model changed): CURRENT unchanged",
                    )
                )
            )
        )

    def _acknowledge_machine(
        self, machine: sfn.StateMachine, functions: tuple[lambda_.Function, ...]
    ) -> None:
        assert machine.role is not None
        for function in functions:
            acknowledge(
                machine.role,
                f"AwsSolutions-IAM5[Resource::{finding_text(machine, function.function_arn)}:*]",
                "CDK's LambdaInvoke task grants lambda:InvokeFunction on the function and its versions and "
                "aliases (`:*`); only the pipeline's own two functions are named.",
            )
        acknowledge(
            machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray tracing (PutTraceSegments, GetSamplingRules) and CloudWatch Logs delivery "
            "(CreateLogDelivery, DescribeLogGroups, ...) accept no resource narrower than '*'.",
        )

    def _schedule(self, dead_letters: sqs.IQueue) -> events.Rule:
        [row] = [schedule for schedule in SCHEDULES if schedule.state_machine == "retrain"]
        rule = events.Rule(
            self,
            "Schedule",
            rule_name=f"ticketguard-{self.config.name}-{row.name}",
            description=row.description,
            schedule=events.Schedule.expression(row.expression),
        )
        rule.add_target(
            targets.SfnStateMachine(
                self.state_machine,
                input=events.RuleTargetInput.from_object(dict(row.payload or {})),
                dead_letter_queue=dead_letters,
                retry_attempts=2,
                max_event_age=Duration.hours(2),
            )
        )
        return rule

    def _alarm_trigger(self, model_ops: lambda_.IFunction, dead_letters: sqs.IQueue) -> events.Rule:
        """The alarms' state changes to ALARM -> the model-ops function (shared/jobs/model_ops.py): the
        drift and detection-drop alarms start an emergency retraining past the cooldown; the others roll
        a canary back. By name: the alarms live in the monitoring stack, deployed after this one."""
        return alarm_state_rule(
            self,
            "AlarmTrigger",
            environment=self.config.name,
            rule_name="model-ops-alarms",
            description="Model alarms to the model-ops job: emergency retraining, canary rollback",
            alarms=("model-drift", "model-detection-drop", *CANARY_ROLLBACK_ALARMS),
            function=model_ops,
            dead_letters=dead_letters,
        )

    # ------------------------------------------------------------------ alarms
    def _alarms(self, topic: sns.ITopic) -> dict[str, cloudwatch.Alarm]:
        period = Duration.minutes(5)
        failed = failed_executions(
            self.state_machine.state_machine_arn, period, "failed retraining executions"
        )
        build_failed = aws_metric(
            "AWS/CodeBuild", {"ProjectName": self.project.project_name}, "FailedBuilds", "Sum", period
        )
        alarms = {}
        for name, metric, description in (
            (
                "retrain-failed",
                failed,
                "A retraining execution failed, timed out or was aborted: the served model is unchanged; "
                "see the execution's failed step (Step Functions console) and its logs",
            ),
            (
                "retrain-build-failed",
                build_failed,
                "The retraining build (ticketguard train on CodeBuild) failed: see its CloudWatch logs",
            ),
        ):
            alarm = paging_alarm(
                self,
                "".join(part.capitalize() for part in name.split("-")),
                environment=self.config.name,
                name=name,
                description=description,
                metric=metric,
                threshold=1,
                topic=topic,
                comparison=AT_LEAST,
            )
            alarms[name] = alarm
        return alarms

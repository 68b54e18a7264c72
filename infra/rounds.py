"""The loop of a job that continues in rounds (shared/jobs/rounds.py), as a Step Functions state machine
`ticketguard-<env>-<job>`: invoke the function with the state, then while it answers `continue`, invoke it
again with its `next` (the same `as_of`, the next round). The function decides, and caps the rounds; the
local timers run the same loop in-process (tooling/local/schedules.py). Lambda's recursive-loop detection
does not apply: the function never invokes itself.

    Run (LambdaInvoke, the answer at $.run) -> Continues? --continue--> NextRound ($.run.next) -> Run
                                                          --complete--> Done
                                                          --otherwise-> Incomplete (rounds exhausted)
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.log_groups import encrypted_log_group
from infra.nag import acknowledge, finding_text

# A round is one invocation (at most 15 minutes); the machine outlives the function's cap of rounds
# (shared/retention/store.py, 96 by default: a day) with room for retries.
LOOP_TIMEOUT = Duration.hours(30)


class RoundsLoop(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        job: str,
        function: lambda_.IFunction,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = encrypted_log_group(self, "Logs", key=key)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=f"ticketguard-{environment}-{job.replace('_', '-')}",
            comment=f"The {job} job in rounds: invokes the function again while it answers continue",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(function)),
            timeout=LOOP_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        role = self.state_machine.role
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{finding_text(self, function.function_arn)}:*]",
            "CDK's LambdaInvoke task grants lambda:InvokeFunction on the function and its versions and "
            "aliases (`:*`); only the job's own function is named.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray tracing (PutTraceSegments, GetSamplingRules) and CloudWatch Logs delivery "
            "(CreateLogDelivery, DescribeLogGroups, ...) accept no resource narrower than '*'.",
        )

    def _definition(self, function: lambda_.IFunction) -> sfn.IChainable:
        run = tasks.LambdaInvoke(
            self,
            "Run",
            comment="One round: as much as fits in the function's time; it answers continue/next",
            lambda_function=function,
            # No payload: the function gets the state itself (the rule's input, then each `next`), and its
            # answer is the result (the function's ARN as the task's resource).
            payload_response_only=True,
            result_path="$.run",
            task_timeout=sfn.Timeout.duration(Duration.minutes(16)),
        )
        # A failed round (the database restarting, say) is tried again twice, as an asynchronous
        # invocation would have been; then the execution fails (its alarm pages).
        run.add_retry(
            errors=["States.TaskFailed"], interval=Duration.minutes(1), max_attempts=2, backoff_rate=2
        )
        next_round = sfn.Pass(
            self,
            "NextRound",
            comment="The function's `next`: the same as_of, the next round number",
            parameters={"as_of.$": "$.run.next.as_of", "round.$": "$.run.next.round"},
        )
        choice = (
            sfn.Choice(self, "Continues")
            .when(sfn.Condition.boolean_equals("$.run.continue", True), next_round.next(run))
            .when(
                sfn.Condition.boolean_equals("$.run.complete", True),
                sfn.Succeed(self, "Done", comment="Nothing left past its age"),
            )
            .otherwise(
                sfn.Fail(
                    self,
                    "Incomplete",
                    comment="Rounds exhausted with work left: the next scheduled run resumes it",
                    error="RoundsExhausted",
                )
            )
        )
        return run.next(choice)

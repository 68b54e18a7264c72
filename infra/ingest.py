"""Ingest's queue: POST /api/v1/events -> API Gateway's SQS integration (no function in front, so
nothing is lost while the consumer or the database is down) -> the ingest Lambda (SQS event source,
partial-batch failure reporting) -> PostgreSQL; a dead-letter queue after 5 receives; alarms on the
dead-letter queue's depth and on the age of the oldest queued batch.

Documented limits this is built against:
- SQS: a message is at most 1 MiB (1,048,576 bytes) with its attributes, and the queue must be
  created with that maximum (the default was 256 KiB): the API refuses batches over 1 MB (1,000,000
  bytes), which leaves room for the three message attributes the request template adds.
- API Gateway REST: the request validator checks the body against the document's IngestBatch schema
  (1-500 events) before the integration runs; the payload limit (10 MB) is above the queue's, so a
  larger body reaches SQS and is refused there (400 -> our 413).
- A usage plan covers the whole stage, and no function runs before the queue: the request template
  itself sends only for the API keys whose plan lists ingestEvents; any other key gets an action SQS
  refuses, and the integration response turns that into 403.
- SQS's own refusals mean different things (`REFUSALS`): too large 413, throttled 429 with Retry-After,
  the key throttled, disabled or denied, or any other (ours to fix) 503 "nothing stored, send it again".
- Order: a child fact (a wallet) is rejected while its parent (the user) is not stored, so the
  batches of one marketplace must be applied in the order it sent them. A standard queue reorders and
  its consumers run concurrently; so the queue is FIFO, one message group per API key: SQS hands a
  group's next batch out only once the previous one is deleted, and the consumer stops at the first
  failed record of a batch (Powertools' SqsFifoPartialProcessor) so nothing overtakes it. A group
  moves up to 300 messages a second (150,000 events/s), far above the spec's load.
- Lambda's SQS event source: visibility timeout at least 6 x the function's timeout (AWS's advice,
  so a batch is not redelivered while its first delivery still runs); maximum concurrency bounds the
  database connections ingest can take (one group is consumed by one invocation at a time anyway).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsii
from aws_cdk import CfnOutput, Duration, IStableStringProducer, Lazy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.alarms import paging_alarm
from infra.config import EnvironmentConfig
from infra.keys import key_use
from shared.api.answers import out_of_plan_message, receipt

MAX_MESSAGE_BYTES = 1_048_576
MAX_RECEIVES = 5
DEPTH_ALARM_BATCHES = 1000  # queued batches (issue 27: the queue's depth beside its age)
OLDEST_MESSAGE_ALARM_S = 300
CONSUMER_MAX_CONCURRENCY = 5  # the SQS event source's minimum is 2


@dataclass(frozen=True)
class QueueIntegration:
    """What the API document needs to send a request's body to a queue."""

    queue_name: str
    account: str
    role_arn: str
    allowed_api_key_ids: str  # comma-separated (a token, resolved at synth from `api_key_ids`)
    # The allowed keys' ids, filled by the API once its keys exist (infra/api.py RestApi)
    api_key_ids: list[str] = field(default_factory=list)


def request_template(allowed_api_key_ids: str) -> str:
    """SendMessage (query protocol) with the body whole and the attributes the consumer reads
    (shared.ingest.consumer.message_attributes); an API key outside the plan sends an action SQS
    refuses (see the module's docstring)."""
    attributes = [
        ("batch_id", "$context.requestId"),
        ("received_at_ms", "$context.requestTimeEpoch"),
        ("api_key_id", "$util.urlEncode($context.identity.apiKeyId)"),
    ]
    parts = [
        "Action=SendMessage",
        "MessageBody=$util.urlEncode($input.body)",
        # FIFO: one marketplace's batches are consumed in the order it sent them (a wallet after its
        # user), and a retried SendMessage within 5 minutes is stored once.
        "MessageGroupId=$util.urlEncode($context.identity.apiKeyId)",
        "MessageDeduplicationId=$context.requestId",
    ]
    for index, (name, value) in enumerate(attributes, start=1):
        parts += [
            f"MessageAttribute.{index}.Name={name}",
            f"MessageAttribute.{index}.Value.DataType=String",
            f"MessageAttribute.{index}.Value.StringValue={value}",
        ]
    return (
        f'#set($allowed = ",{allowed_api_key_ids},")\n'
        '#if($allowed.contains(",$context.identity.apiKeyId,"))\n'
        + "&".join(parts)
        + "\n#else\nAction=TicketGuardApiKeyNotInPlan\n#end"
    )


@dataclass(frozen=True)
class Refusal:
    """What the caller is told when SQS refuses SendMessage with one of `sqs_codes`."""

    sqs_codes: tuple[str, ...]
    status: int
    code: str
    message: str
    retry_after_s: int | None = None


# SQS's refusals of SendMessage, by the error code it answers in the query protocol API Gateway speaks
# (Error.Code of the body; its JSON protocol's short name beside it where they differ). SQS answers most
# with 400, RequestThrottled, InvalidSecurity, OverLimit and KMS.OptInRequired with 403, InvalidAddress
# with 404; the integration responses select on that status only (for an AWS integration API Gateway
# matches `selectionPattern` against the backend's HTTP status), so the template reads the code.
TOO_LARGE = Refusal(
    ("InvalidParameterValue",),
    413,
    "payload_too_large",
    "the batch exceeds what one queue message holds (1 MB)",
)
BAD_CHARACTERS = Refusal(
    ("InvalidMessageContents",),
    400,
    "validation_error",
    "the batch holds characters a queue message cannot carry",
)
THROTTLED = Refusal(
    ("RequestThrottled", "ThrottlingException", "Throttling"),
    429,
    "throttled",
    "the ingest queue is throttling requests: nothing was stored; send the batch again after Retry-After",
    retry_after_s=1,
)
KEY_THROTTLED = Refusal(
    ("KMS.ThrottlingException", "KmsThrottled"),
    503,
    "dependency_unavailable",
    "the ingest queue's encryption key is throttled: nothing was stored; send the batch again",
    retry_after_s=1,
)
REFUSALS = (TOO_LARGE, BAD_CHARACTERS, THROTTLED, KEY_THROTTLED)
# Any other refusal (the key disabled, deleted or denied, the role denied, the queue missing: KMS.*,
# AccessDenied*, InvalidSecurity, AWS.SimpleQueueService.NonExistentQueue, ...) and any 5xx is ours to
# fix or to wait out, never the caller's to drop: 503, nothing stored, send it again.
NOT_STORED = Refusal(
    (),
    503,
    "dependency_unavailable",
    "the ingest queue did not take the batch: nothing was stored; send it again",
    retry_after_s=5,
)


def _answer(refusal: Refusal) -> list[str]:
    lines = [f"#set($context.responseOverride.status = {refusal.status})"]
    if refusal.retry_after_s is not None:
        lines.append(f'#set($context.responseOverride.header.Retry-After = "{refusal.retry_after_s}")')
    lines.append(json.dumps({"error": {"code": refusal.code, "message": refusal.message}}))
    return lines


def refusal_template(allowed_api_key_ids: str, operation_id: str) -> str:
    """The integration responses' template for a refused SendMessage: a key outside the plan (which the
    request template sent an action SQS refuses) 403; else by SQS's error code (REFUSALS, NOT_STORED).
    Each branch overrides the status once (an override applied twice is a 5XX, API Gateway's rule)."""
    forbidden = {
        "error": {"code": "forbidden", "message": out_of_plan_message(operation_id), "field": "x-api-key"}
    }
    lines = [
        f'#set($allowed = ",{allowed_api_key_ids},")',
        "#set($code = \"$!input.path('$.Error.Code')\")",
        '#if($code == "")',
        "#set($code = \"$!input.path('$.ErrorResponse.Error.Code')\")",
        "#end",
        '#if(!$allowed.contains(",$context.identity.apiKeyId,"))',
        "#set($context.responseOverride.status = 403)",
        json.dumps(forbidden),
    ]
    for refusal in REFUSALS:
        condition = " || ".join(f'$code == "{code}"' for code in refusal.sqs_codes)
        lines += [f"#elseif({condition})", *_answer(refusal)]
    lines += ["#else", *_answer(NOT_STORED), "#end"]
    return "\n".join(lines)


def integration(queue: QueueIntegration, *, region: str, partition: str, operation_id: str) -> dict[str, Any]:
    """The operation's x-amazon-apigateway-integration: API Gateway -> SQS SendMessage."""
    answered = json.dumps(receipt("$context.requestId"))  # the same receipt as the local gateway's
    refused = {"application/json": refusal_template(queue.allowed_api_key_ids, operation_id)}
    return {
        "type": "aws",
        "httpMethod": "POST",
        "uri": f"arn:{partition}:apigateway:{region}:sqs:path/{queue.account}/{queue.queue_name}",
        "credentials": queue.role_arn,
        "passthroughBehavior": "never",  # a content type without a template: 415
        "timeoutInMillis": 29000,
        "requestParameters": {
            "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'",
            "integration.request.header.Accept": "'application/json'",
        },
        "requestTemplates": {"application/json": request_template(queue.allowed_api_key_ids)},
        # Selected by SQS's HTTP status; the template maps SQS's error code (see REFUSALS).
        "responses": {
            "default": {"statusCode": "202", "responseTemplates": {"application/json": answered}},
            "4\\d{2}": {"statusCode": "503", "responseTemplates": refused},
            "5\\d{2}": {"statusCode": "503", "responseTemplates": refused},
        },
    }


@jsii.implements(IStableStringProducer)
class _JoinedAtSynth:
    """The key ids, joined when the template is written: the keys are made after the API's document."""

    def __init__(self, values: list[str]) -> None:
        self.values = values

    def produce(self) -> str:
        return ",".join(self.values)


class IngestQueue(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        key: kms.IKey,
        consumer: lambda_.Function,
        consumer_timeout: Duration,
        topics: Mapping[str, sns.ITopic],
    ) -> None:
        super().__init__(scope, construct_id)
        self._build_queues(key, consumer_timeout)
        consumer.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=10,
                report_batch_item_failures=True,
                max_concurrency=CONSUMER_MAX_CONCURRENCY,
            )
        )
        self.gateway_role = self._build_gateway_role(key)
        self.redrive_policy = self._redrive_policy(key)
        CfnOutput(self, "QueueArn", value=self.queue.queue_arn)
        CfnOutput(self, "DeadLettersArn", value=self.dead_letters.queue_arn)
        CfnOutput(self, "RedrivePolicyArn", value=self.redrive_policy.managed_policy_arn)
        api_key_ids: list[str] = []
        self.integration = QueueIntegration(
            queue_name=self.queue.queue_name,
            account=Stack.of(self).account,
            role_arn=self.gateway_role.role_arn,
            allowed_api_key_ids=Lazy.string(_JoinedAtSynth(api_key_ids)),
            api_key_ids=api_key_ids,
        )
        self._build_alarms(config.name, topics)

    def _build_queues(self, key: kms.IKey, consumer_timeout: Duration) -> None:
        """The FIFO queue and its dead-letter queue (module docstring: size, order, visibility)."""
        common: dict[str, Any] = {
            "encryption": sqs.QueueEncryption.KMS,
            "encryption_master_key": key,
            "enforce_ssl": True,
            "retention_period": Duration.days(14),
            "max_message_size_bytes": MAX_MESSAGE_BYTES,
            "fifo": True,
        }
        self.dead_letters = sqs.Queue(self, "DeadLetters", **common)
        self.queue = sqs.Queue(
            self,
            "Queue",
            visibility_timeout=Duration.seconds(6 * consumer_timeout.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVES, queue=self.dead_letters),
            **common,
        )

    def _build_gateway_role(self, key: kms.IKey) -> iam.Role:
        """The role API Gateway sends to the queue with: SendMessage and the queue key, nothing more."""
        role = iam.Role(
            self,
            "GatewayRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway: POST /api/v1/events -> the ingest queue (SendMessage only)",
        )
        # Written out rather than queue.grant_send_messages(): that grant adds kms:GenerateDataKey*
        # on the key from any service; SQS needs these two, through SQS only.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SendToIngestQueue", actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]
            )
        )
        role.add_to_policy(key_use(self, "IngestQueueKey", key, "sqs"))
        return role

    def _build_alarms(self, environment: str, topics: Mapping[str, sns.ITopic]) -> None:
        """Paging alarms on the dead letters, the age of the oldest queued batch and the queue's depth."""
        paging_alarm(
            self,
            "ingest-dead-letters",
            environment=environment,
            name="ingest-dead-letters",
            description=f"An ingest batch failed {MAX_RECEIVES} deliveries (PostgreSQL down, or a consumer bug): "
            "it is kept in the dead-letter queue; fix the cause, then redrive it to the ingest queue",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=0,
            topic=topics["high"],
        )
        paging_alarm(
            self,
            "ingest-queue-backlog",
            environment=environment,
            name="ingest-queue-backlog",
            description=f"The oldest queued ingest batch is over {OLDEST_MESSAGE_ALARM_S} s old: the consumer is "
            "down, throttled or failing; features and labels are going stale",
            metric=self.queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=OLDEST_MESSAGE_ALARM_S,
            topic=topics["high"],
        )
        paging_alarm(
            self,
            "ingest-queue-depth",
            environment=environment,
            name="ingest-queue-depth",
            description=f"More than {DEPTH_ALARM_BATCHES} ingest batches wait in the queue: the consumer falls behind",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=DEPTH_ALARM_BATCHES,
            topic=topics["medium"],
        )

    def _redrive_policy(self, key: kms.IKey) -> iam.ManagedPolicy:
        # The dead letters' way back (`ticketguard ingest redrive --aws`, tooling/local/redrive.py): SQS's
        # dead-letter redrive, a move task from the dead-letter queue to this FIFO queue. For the on-call
        # role to attach; the queues' ARNs are outputs. (The dead-letter queue keeps SQS's default
        # redrive-allow policy: naming the ingest queue in it would make the two queues depend on
        # each other.)
        return iam.ManagedPolicy(
            self,
            "RedrivePolicy",
            description="Redrive the ingest dead-letter queue to the ingest queue (StartMessageMoveTask)",
            statements=[
                iam.PolicyStatement(
                    sid="MoveDeadLetters",
                    actions=[
                        "sqs:StartMessageMoveTask",
                        "sqs:ListMessageMoveTasks",
                        "sqs:CancelMessageMoveTask",
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueAttributes",
                    ],
                    resources=[self.dead_letters.queue_arn],
                ),
                iam.PolicyStatement(
                    sid="IntoIngestQueue",
                    actions=["sqs:SendMessage", "sqs:GetQueueAttributes"],
                    resources=[self.queue.queue_arn],
                ),
                key_use(self, "RedriveQueueKey", key, "sqs"),
            ],
        )

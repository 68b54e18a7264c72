"""Issue 11: the ingest path in the templates: API Gateway -> SQS (1 MiB messages, a dead-letter queue
after 5 receives) -> the consumer with partial-batch failure reporting, and the alarms that page."""

from __future__ import annotations

import json

from infra.functions import spec
from infra.ingest import MAX_MESSAGE_BYTES, MAX_RECEIVES


def _queues(synth) -> dict[str, dict]:
    return {
        lid: q["Properties"]
        for lid, q in synth.resources("AWS::SQS::Queue", stack="Service").items()
        if lid.startswith("Ingest")
    }


def test_given_the_ingest_queue_then_it_takes_1_mib_messages_and_dead_letters_after_5_receives(dev_synth):
    queues = _queues(dev_synth)
    [main] = [q for q in queues.values() if "RedrivePolicy" in q]
    [dead] = [lid for lid, q in queues.items() if "RedrivePolicy" not in q]
    # Then both queues hold a whole batch (SQS's default is 256 KiB), encrypted with the service key
    assert all(q["MaximumMessageSize"] == MAX_MESSAGE_BYTES == 1_048_576 for q in queues.values())
    assert all("KmsMasterKeyId" in q for q in queues.values())
    # FIFO: a marketplace's batches are applied in the order it sent them (children after parents)
    assert all(q["FifoQueue"] is True for q in queues.values())
    assert main["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES
    assert dead in json.dumps(main["RedrivePolicy"]["deadLetterTargetArn"])
    # and a batch is not redelivered while its first delivery may still run (6 x the timeout)
    [consumer] = [
        f["Properties"]
        for f in dev_synth.resources("AWS::Lambda::Function", stack="Service").values()
        if f["Properties"].get("Description", "").startswith(spec("ingest").description[:30])
    ]
    assert main["VisibilityTimeout"] == 6 * consumer["Timeout"]


def test_given_the_consumer_then_sqs_reports_partial_batch_failures_with_bounded_concurrency(dev_synth):
    [mapping] = dev_synth.resources("AWS::Lambda::EventSourceMapping", stack="Service").values()
    properties = mapping["Properties"]
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BatchSize"] == 10
    # and the handler stops at the first failed batch, so no later batch of the group overtakes it
    from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor

    import functions.ingest.handler as consumer

    assert isinstance(consumer.processor, SqsFifoPartialProcessor)
    assert 2 <= properties["ScalingConfig"]["MaximumConcurrency"] <= 10


def test_given_the_ingest_alarms_then_dead_letters_and_backlog_page(dev_synth):
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in dev_synth.resources("AWS::CloudWatch::Alarm", stack="Service").values()
    }
    dead = alarms["ticketguard-dev-ingest-dead-letters"]
    backlog = alarms["ticketguard-dev-ingest-queue-backlog"]
    assert dead["MetricName"] == "ApproximateNumberOfMessagesVisible" and dead["Threshold"] == 0
    assert backlog["MetricName"] == "ApproximateAgeOfOldestMessage" and backlog["Threshold"] == 300
    assert dead["AlarmActions"] and backlog["AlarmActions"]


def test_given_the_api_then_post_events_goes_to_the_queue_with_the_marketplace_key_only(dev_synth):
    [api] = dev_synth.resources("AWS::ApiGateway::RestApi", stack="Service").values()
    operation = api["Properties"]["Body"]["paths"]["/api/v1/events"]["post"]
    integration = operation["x-amazon-apigateway-integration"]
    assert integration["type"] == "aws"
    template = json.dumps(integration["requestTemplates"])
    # the allowed keys are the marketplace plan's key, resolved at synth (a reference, not a literal)
    [key_id] = [
        lid
        for lid, k in dev_synth.resources("AWS::ApiGateway::ApiKey", stack="Service").items()
        if k["Properties"]["Name"].endswith("marketplace-backend")
    ]
    assert key_id in template
    dashboard_key = next(
        lid
        for lid, k in dev_synth.resources("AWS::ApiGateway::ApiKey", stack="Service").items()
        if k["Properties"]["Name"].endswith("dashboard")
    )
    assert dashboard_key not in template
    # the gateway's role may send to the queue and nothing else
    roles = dev_synth.resources("AWS::IAM::Policy", stack="Service")
    [policy] = [p for lid, p in roles.items() if lid.startswith("IngestGatewayRole")]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in statements] == ["sqs:SendMessage", ["kms:Decrypt", "kms:GenerateDataKey"]]


def test_given_the_documented_batch_limit_then_a_whole_batch_and_its_attributes_fit_one_sqs_message():
    # SQS counts a message's body and its attributes (name, data type, value) against the 1 MiB limit:
    # the largest body the API admits, with the largest attributes the gateway adds, must still fit
    from datetime import UTC, datetime

    from shared.api.spec import operations
    from shared.ingest.consumer import message_attributes, queued_batch

    [ingest] = [op for op in operations() if op.queue == "ingest"]
    assert ingest.max_body_bytes is not None
    largest = queued_batch("", batch_id="b" * 128, received_at=datetime.now(UTC), api_key_id="k" * 128)
    attributes = sum(
        len(name) + len("String") + len(value) for name, value in message_attributes(largest).items()
    )
    assert ingest.max_body_bytes + attributes <= MAX_MESSAGE_BYTES


def test_given_the_dead_letters_then_an_operator_policy_redrives_them_to_the_ingest_queue_and_nothing_else(
    dev_synth,
):
    # Issue 21: `ticketguard ingest redrive --aws` starts SQS's move task; the stack gives the policy
    queues = _queues(dev_synth)
    [main] = [lid for lid, q in queues.items() if "RedrivePolicy" in q]
    [dead] = [lid for lid, q in queues.items() if "RedrivePolicy" not in q]
    [policy] = [
        p["Properties"]
        for lid, p in dev_synth.resources("AWS::IAM::ManagedPolicy", stack="Service").items()
        if lid.startswith("IngestRedrivePolicy") or "StartMessageMoveTask" in json.dumps(p)
    ]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    move = statements["MoveDeadLetters"]
    assert "sqs:StartMessageMoveTask" in move["Action"] and "sqs:ReceiveMessage" in move["Action"]
    assert dead in json.dumps(move["Resource"]) and main not in json.dumps(move["Resource"])
    into = statements["IntoIngestQueue"]
    assert "sqs:SendMessage" in into["Action"] and main in json.dumps(into["Resource"])
    assert dead not in json.dumps(into["Resource"])
    assert statements["RedriveQueueKey"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    # and the queues' ARNs the command takes are outputs of the stack
    outputs = json.dumps(dev_synth.stack("Service").get("Outputs", {}))
    assert "DeadLettersArn" in outputs and "QueueArn" in outputs

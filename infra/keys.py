"""Customer-managed KMS keys (rotation on), one per stack, usable by the AWS services that write
encrypted data on our behalf: CloudWatch Logs, CloudWatch alarms (SNS), EventBridge (SQS DLQ)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


def service_key(scope: Construct, construct_id: str, *, description: str, retain: bool) -> kms.Key:
    stack = Stack.of(scope)
    key = kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        pending_window=None,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogs",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"
                }
            },
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AlarmsAndSchedulesWriteEncryptedMessages",
            principals=[
                iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                iam.ServicePrincipal("events.amazonaws.com"),
            ],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
        )
    )
    return key


def via_services(scope: Construct, services: str | Sequence[str]) -> dict[str, dict[str, str | list[str]]]:
    """A key policy condition: the key is used only through this AWS service (s3, sqs, sns, ...) or
    these (a list, as IAM writes it)."""
    region = Stack.of(scope).region
    endpoint = "{}." + region + ".amazonaws.com"
    via = endpoint.format(services) if isinstance(services, str) else [endpoint.format(s) for s in services]
    return {"StringEquals": {"kms:ViaService": via}}


def key_use(scope: Construct, sid: str, key: kms.IKey, services: str | Sequence[str]) -> iam.PolicyStatement:
    """Encrypt and decrypt with `key` (what SQS, SNS, S3 and Secrets Manager ask of a caller), only
    through `services`."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["kms:Decrypt", "kms:GenerateDataKey"],
        resources=[key.key_arn],
        conditions=via_services(scope, services),
    )


def archive_master_key(scope: Construct, construct_id: str, *, environment: str, retain: bool) -> kms.Key:
    """The master key of the archive's subject keys (shared/retention/keyring.py): KMS makes and opens
    the key-encryption keys that wrap them, so a database dump or snapshot alone decrypts nothing. A key
    of its own: no AWS service uses it on our behalf, and only the retention function may (its grant,
    infra/retention.py, names this key and the encryption context's purpose). Deleting it makes every
    archived personal field unreadable: it is retained in prod."""
    key = kms.Key(
        scope,
        construct_id,
        description="TicketGuard archive: wraps the per-subject keys of crypto-shredding",
        alias=f"alias/ticketguard-{environment}-archive-subject-keys",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
    )
    return key

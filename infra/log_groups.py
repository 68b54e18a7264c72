"""The log groups of every construct: one month of retention, encrypted with the stack's KMS key.

One helper so that the retention and encryption of all log groups live in one place (cdk-nag and the
design want both on every group). Deleted with the stack unless a caller says otherwise.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

LOG_RETENTION = logs.RetentionDays.ONE_MONTH


def encrypted_log_group(
    scope: Construct,
    construct_id: str,
    *,
    key: kms.IKey,
    log_group_name: str | None = None,
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
) -> logs.LogGroup:
    """A log group kept `LOG_RETENTION`, encrypted with `key`; CloudFormation names it unless
    `log_group_name` is given (some services deliver only to groups with a fixed name)."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=log_group_name,
        retention=LOG_RETENTION,
        encryption_key=key,
        removal_policy=removal_policy,
    )


def delivery_arn(log_group: logs.ILogGroup) -> str:
    """The group's ARN as log-delivery APIs want it, `arn:...:log-group:NAME`: the CloudFormation `Arn`
    attribute (`log_group_arn`) ends in `:*`, which Cognito's LogDeliveryConfiguration refuses
    (its pattern has no `*`)."""
    return Stack.of(log_group).format_arn(
        service="logs",
        resource="log-group",
        resource_name=log_group.log_group_name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )

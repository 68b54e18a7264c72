"""The severity topics (CRITICAL, HIGH, MEDIUM) that every alarm pages, in the foundation stack: named
`ticketguard-<env>-<severity>`, so that another stack names one by its ARN (`topic_arn`) without a
cross-stack export."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import EnvironmentConfig

SEVERITIES = ("critical", "high", "medium")


def topic_name(environment: str, severity: str) -> str:
    return f"ticketguard-{environment}-{severity}"


def topic_arn(scope: Construct, environment: str, severity: str) -> str:
    """The severity topic's ARN from its name: another stack names it without a cross-stack export."""
    stack = Stack.of(scope)
    return f"arn:{stack.partition}:sns:{stack.region}:{stack.account}:{topic_name(environment, severity)}"


class AlertTopics(Construct):
    """One SNS topic per severity, KMS-encrypted, TLS-only, e-mail subscriptions from the config.

    The topic policy replaces SNS's default one: `enforce_ssl` adds a Deny, and the statement below
    allows the one service that publishes without an IAM role of ours, CloudWatch, for this account's
    `ticketguard-<env>-*` alarms only (without it every alarm action fails: "no resource-based policy
    allows the SNS:Publish action"). No EventBridge rule targets these topics. The retraining state
    machine publishes with its own role, whose identity policy allows it (within one account an
    identity policy's allow suffices; naming that role here would make this stack depend on Service)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.topics: dict[str, sns.Topic] = {}
        for severity in SEVERITIES:
            topic = sns.Topic(
                self,
                severity.capitalize(),
                topic_name=topic_name(config.name, severity),
                display_name=f"TicketGuard {severity.upper()}",
                master_key=key,
                enforce_ssl=True,
            )
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="CloudWatchAlarmsPublish",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}"
                            f":alarm:ticketguard-{config.name}-*"
                        },
                    },
                )
            )
            for address in getattr(config.alarm_endpoints, severity):
                topic.add_subscription(subscriptions.EmailSubscription(address))
            self.topics[severity] = topic
        self._build_channels(config)

    def _build_channels(self, config: EnvironmentConfig) -> None:
        """SMS (CRITICAL), PagerDuty (Events v2, by an SSM parameter's URL) and Slack (AWS Chatbot), as
        cdk.json's `alarm_channels` of the environment says; nothing when it names none."""
        channels = config.alarm_channels
        for number in channels.sms:
            self.topics["critical"].add_subscription(subscriptions.SmsSubscription(number))
        if channels.pagerduty is not None:
            url = ssm.StringParameter.value_for_string_parameter(self, channels.pagerduty.url_parameter)
            for severity in channels.pagerduty.severities:
                self.topics[severity].add_subscription(
                    subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS)
                )
        if channels.slack is not None:
            chatbot.SlackChannelConfiguration(
                self,
                "Slack",
                slack_channel_configuration_name=f"ticketguard-{config.name}-alarms",
                slack_workspace_id=channels.slack.workspace_id,
                slack_channel_id=channels.slack.channel_id,
                notification_topics=[self.topics[s] for s in channels.slack.severities],
            )

"""Security operations (issue 25): what starts the SIEM and SOAR functions and what they may touch.

- Subscription filters deliver to the SIEM function: the API access log (429s and 403s), the scoring
  function's log (BLOCKED decisions), the WAF log (blocks, challenges) and the Cognito user-activity log
  (failed MFA). Its schedule (siem-poll, shared/jobs/schedules.yaml, infra/jobs.py) polls the database.
- An EventBridge rule on the default bus sends each `Security finding` (source ticketguard.siem) to
  the SOAR function; its schedule (soar-lift) runs the lift job.
- Least privilege: the SIEM may put events on the default bus; the SOAR may read and update the two
  WAF IP sets (block and challenge) and nothing else of WAF, disable and enable users of the admin
  pool, publish on the alert topics (its spec's `alerts`).
- Their errors page through the on-call alarms every function has (shared/oncall/alarms.yaml's
  `function-errors`: ticketguard-<env>-siem-function-errors, -soar-function-errors)."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.security import FAILED_MFA_TERMS, AdminAuth, WebFirewall

# The SIEM's findings on EventBridge (shared/siem/publish.py; a test holds the two equal).
FINDING_SOURCE = "ticketguard.siem"
FINDING_DETAIL_TYPE = "Security finding"
# The log lines each subscription passes to the SIEM (what its normalizer turns into events).
ACCESS_PATTERN = '{ ($.status = "429") || ($.status = "403") }'
SCORING_PATTERN = '{ $.decision = "BLOCKED" }'
WAF_PATTERN = '{ ($.action = "BLOCK") || ($.action = "CHALLENGE") || ($.action = "CAPTCHA") }'


class SecurityOperations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        siem: lambda_.Function,
        soar: lambda_.Function,
        firewall: WebFirewall,
        admin: AdminAuth,
        sources: dict[str, logs.ILogGroup],
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._build_subscriptions(siem, sources, admin)
        self.rule = self._build_rule(soar, dead_letters, config.name)
        self._grant_siem(siem)
        self._grant_soar(soar, firewall, admin)
        self._configure(config, siem, soar, firewall, admin)

    def _build_subscriptions(
        self, siem: lambda_.Function, sources: dict[str, logs.ILogGroup], admin: AdminAuth
    ) -> None:
        patterns = {"access": ACCESS_PATTERN, "scoring": SCORING_PATTERN, "waf": WAF_PATTERN}
        destination = destinations.LambdaDestination(siem)
        self.subscriptions = [
            logs.SubscriptionFilter(
                self,
                f"{name.capitalize()}ToSiem",
                log_group=group,
                destination=destination,
                filter_pattern=logs.FilterPattern.literal(patterns[name]),
                filter_name=f"{name}-to-siem",
            )
            for name, group in sources.items()
        ]
        self.subscriptions.append(
            logs.SubscriptionFilter(
                self,
                "CognitoToSiem",
                log_group=admin.auth_events,
                destination=destination,
                filter_pattern=logs.FilterPattern.all_terms(*FAILED_MFA_TERMS),
                filter_name="cognito-mfa-to-siem",
            )
        )

    def _build_rule(self, soar: lambda_.Function, dead_letters: sqs.IQueue, environment: str) -> events.Rule:
        return events.Rule(
            self,
            "FindingsToSoar",
            rule_name=f"ticketguard-{environment}-findings",
            description="SIEM findings to the SOAR function",
            event_pattern=events.EventPattern(source=[FINDING_SOURCE], detail_type=[FINDING_DETAIL_TYPE]),
            targets=[
                targets.LambdaFunction(
                    soar, dead_letter_queue=dead_letters, retry_attempts=4, max_event_age=Duration.hours(2)
                )
            ],
        )

    def _grant_siem(self, siem: lambda_.Function) -> None:
        stack = Stack.of(self)
        siem.add_to_role_policy(
            iam.PolicyStatement(
                sid="PutFindings",
                actions=["events:PutEvents"],
                resources=[f"arn:{stack.partition}:events:{stack.region}:{stack.account}:event-bus/default"],
            )
        )

    def _grant_soar(self, soar: lambda_.Function, firewall: WebFirewall, admin: AdminAuth) -> None:
        soar.add_to_role_policy(
            iam.PolicyStatement(
                sid="UpdateTheTwoIpSets",
                actions=["wafv2:GetIPSet", "wafv2:UpdateIPSet"],
                resources=[firewall.block_list.attr_arn, firewall.challenge_list.attr_arn],
            )
        )
        soar.add_to_role_policy(
            iam.PolicyStatement(
                sid="LockAdmins",
                actions=["cognito-idp:AdminDisableUser", "cognito-idp:AdminEnableUser"],
                resources=[admin.user_pool.user_pool_arn],
            )
        )

    def _configure(
        self,
        config: EnvironmentConfig,
        siem: lambda_.Function,
        soar: lambda_.Function,
        firewall: WebFirewall,
        admin: AdminAuth,
    ) -> None:
        siem.add_environment("TG_SIEM_EVENT_BUS", "default")
        settings = {
            "TG_WAF_SCOPE": "REGIONAL",
            "TG_WAF_IP_SET_NAME": f"ticketguard-{config.name}-blocklist",
            "TG_WAF_IP_SET_ID": firewall.block_list.attr_id,
            "TG_WAF_CHALLENGE_IP_SET_NAME": f"ticketguard-{config.name}-challenge",
            "TG_WAF_CHALLENGE_IP_SET_ID": firewall.challenge_list.attr_id,
            "TG_COGNITO_USER_POOL_ID": admin.user_pool.user_pool_id,
            # Never blocked or challenged: the admin VPN (and, per environment, the backend's egress).
            "TG_SOAR_NEVER_BLOCK": ",".join(config.admin_cidrs),
        }
        for name, value in settings.items():
            soar.add_environment(name, value)

"""Security operations (issue 25): what starts the SIEM and SOAR functions and what they may touch.

- Subscription filters deliver to the SIEM function: the API access log (429s and 403s), the scoring
  function's log (BLOCKED decisions), the WAF log (blocks, challenges) and the Cognito user-activity log
  (failed MFA). Its schedule (siem-poll, shared/jobs/schedules.yaml, infra/jobs.py) polls the database.
- An EventBridge rule on the default bus sends each `Security finding` (source ticketguard.siem) to
  the SOAR function; its schedule (soar-lift) runs the lift job.
- Least privilege: the SIEM may put events on the default bus and read and write the audit chain's
  anchor (one SSM parameter, shared/audit/anchor.py); the SOAR may read and update the two
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
from shared.config import SecuritySettings, env_name

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
        self._grant_siem(siem, config.name)
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

    def _grant_siem(self, siem: lambda_.Function, environment: str) -> None:
        stack = Stack.of(self)
        siem.add_to_role_policy(
            iam.PolicyStatement(
                sid="PutFindings",
                actions=["events:PutEvents"],
                resources=[f"arn:{stack.partition}:events:{stack.region}:{stack.account}:event-bus/default"],
            )
        )
        # Its poll anchors the audit chain's head outside the database (shared/audit/anchor.py).
        siem.add_environment(env_name("audit_anchor_parameter"), audit_anchor_parameter(environment))
        siem.add_to_role_policy(
            audit_anchor_access(self, environment, "AuditAnchorWrite", "ssm:GetParameter", "ssm:PutParameter")
        )

    def _grant_soar(self, soar: lambda_.Function, firewall: WebFirewall, admin: AdminAuth) -> None:
        soar.add_to_role_policy(update_ip_sets(firewall))
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
            **effector_environment(config, firewall, admin),
            # Never blocked or challenged: the admin VPN (and, per environment, the backend's egress).
            "TG_SOAR_NEVER_BLOCK": ",".join(config.admin_cidrs),
        }
        for name, value in settings.items():
            soar.add_environment(name, value)


def audit_anchor_parameter(environment: str) -> str:
    """The SSM parameter holding the audit chain's head (written by the SIEM's poll; read by the admin
    function's verify route and `ticketguard audit verify --anchor-parameter`)."""
    return f"/ticketguard/{environment}/audit/chain-head"


def audit_anchor_access(scope: Construct, environment: str, sid: str, *actions: str) -> iam.PolicyStatement:
    stack = Stack.of(scope)
    name = audit_anchor_parameter(environment).lstrip("/")
    return iam.PolicyStatement(
        sid=sid,
        actions=list(actions),
        resources=[f"arn:{stack.partition}:ssm:{stack.region}:{stack.account}:parameter/{name}"],
    )


def update_ip_sets(firewall: WebFirewall) -> iam.PolicyStatement:
    """Read and replace the two IP sets the blocklist mirrors (shared/soar/aws.py), nothing else of WAF."""
    return iam.PolicyStatement(
        sid="UpdateTheTwoIpSets",
        actions=["wafv2:GetIPSet", "wafv2:UpdateIPSet"],
        resources=[firewall.block_list.attr_arn, firewall.challenge_list.attr_arn],
    )


def effector_environment(
    config: EnvironmentConfig, firewall: WebFirewall, admin: AdminAuth
) -> dict[str, str]:
    """The SOAR effectors' configuration (shared/soar/entry.py aws_effectors): the two IP sets and the
    admin pool, named by the Settings fields that read them."""
    return {
        env_name("waf_scope"): "REGIONAL",
        env_name("waf_ip_set_name"): f"ticketguard-{config.name}-blocklist",
        env_name("waf_ip_set_id"): firewall.block_list.attr_id,
        env_name("waf_challenge_ip_set_name", SecuritySettings): f"ticketguard-{config.name}-challenge",
        env_name("waf_challenge_ip_set_id", SecuritySettings): firewall.challenge_list.attr_id,
        env_name("cognito_user_pool_id", SecuritySettings): admin.user_pool.user_pool_id,
    }

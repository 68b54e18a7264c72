"""The stacks: Foundation (stateful: network, keys, data stores, alert topics), Service (functions,
layers, migrations, API, WAF, Cognito, schedules) and Monitoring (alarms, dashboard).

Stateful resources live apart so that the service stack can be replaced freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import App, CfnOutput, Duration, Environment, Fn, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.admin_access import grant_admin_routes
from infra.alert_topics import AlertTopics, topic_arn
from infra.api import RestApi, access_log_group_name
from infra.config import EnvironmentConfig
from infra.data import ArchiveBucket, Cache, Database, archive_bucket_name, redis_replication_group_parameter
from infra.functions import (
    CATALOG,
    Dependencies,
    FunctionFactory,
    dead_letters_queue_name,
    function_name,
    log_group_name,
)
from infra.functions import spec as function_spec
from infra.ingest import IngestQueue
from infra.jobs import Jobs
from infra.keys import archive_master_key, service_key
from infra.migrations import SchemaMigrations
from infra.monitoring import Monitoring
from infra.nag import acknowledge
from infra.network import Network
from infra.oncall import proxy_name_parameter, publish_proxy_name
from infra.oncall_actions import OnCallActions
from infra.retention import AuditArchive, RetentionCatalog
from infra.retrain import RetrainPipeline, expire_run_data
from infra.scoring_capacity import ScoringCapacity
from infra.security import AdminAuth, WebFirewall, waf_log_group_name
from infra.security_ops import SecurityOperations
from shared.api.access import ALLOWED_API_KEY_IDS_ENV


@dataclass(frozen=True)
class BuildPaths:
    deps_layer: Path
    model_layer: Path
    staging: Path


class FoundationStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, env: Environment
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description="TicketGuard stateful resources: network, data, alert topics",
        )
        self.key = service_key(self, "Key", description="TicketGuard data at rest", retain=config.is_prod)
        self.network = Network(self, "Network", config=config, key=self.key)
        self.database = Database(self, "Database", config=config, network=self.network, key=self.key)
        self.cache = Cache(self, "Cache", config=config, network=self.network, key=self.key)
        publish_proxy_name(self, config.name, self.database.proxy.db_proxy_name)
        self.archive = ArchiveBucket(self, "Archive", config=config, key=self.key)
        self.archive_master_key = archive_master_key(
            self, "ArchiveMasterKey", environment=config.name, retain=config.is_prod
        )
        expire_run_data(self.archive.bucket)
        self.audit_archive = AuditArchive(
            self, "AuditArchive", config=config, key=self.key, access_logs=self.archive.access_logs
        )
        self.alerts = AlertTopics(self, "Alerts", config=config, key=self.key)
        self.pii_salt = secretsmanager.Secret(
            self,
            "PiiSalt",
            description="Salt of the log pseudonyms (shared.observability.pii)",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=48
            ),
        )
        self._acknowledge_findings(config)

    def _acknowledge_findings(self, config: EnvironmentConfig) -> None:
        """The foundation's cdk-nag findings, each with its reason; dev's are its cost savings."""
        acknowledge(
            self.pii_salt,
            "AwsSolutions-SMG4",
            "Rotating the log-pseudonym salt would break correlation of the same subject across log lines; "
            "it is rotated by hand (redeploy with a new secret) when compromised.",
        )
        acknowledge(
            self.cache.auth_secret,
            "AwsSolutions-SMG4",
            "ElastiCache AUTH tokens rotate through ModifyReplicationGroup (AuthTokenUpdateStrategy ROTATE), "
            "which no hosted rotation function supports; rotation is a runbook step.",
        )
        if not config.database.multi_az:
            acknowledge(
                self.database.instance,
                "AwsSolutions-RDS3",
                "Single-AZ in dev to save cost; prod is Multi-AZ (config).",
            )
        if not config.database.deletion_protection:
            acknowledge(
                self.database.instance,
                "AwsSolutions-RDS10",
                "Dev databases are disposable; prod has deletion protection (config).",
            )
        if not (config.cache.multi_az and config.cache.replicas > 1):
            acknowledge(
                self.cache.replication_group,
                "AwsSolutions-AEC4",
                "Single node in dev to save cost; prod is Multi-AZ (config).",
            )


class ServiceStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        env: Environment,
        foundation: FoundationStack,
        paths: BuildPaths,
    ) -> None:
        super().__init__(scope, construct_id, env=env, description="TicketGuard functions, API, schedules")
        self.add_stack_dependency(foundation)
        self.key = service_key(
            self, "Key", description="TicketGuard logs, queues, environment variables", retain=False
        )
        deps = self._dependencies(config, foundation)
        self.factory = FunctionFactory(
            self,
            "Functions",
            config=config,
            deps=deps,
            key=self.key,
            deps_layer_dir=paths.deps_layer,
            model_layer_dir=paths.model_layer,
            staging_dir=paths.staging,
        )
        for spec in CATALOG:
            self.factory.make(spec)
        functions = self.factory.functions
        self.migrations = self._build_migrations(functions)
        self.ingest = self._build_ingest(config, functions, deps.topics)
        self.admin = AdminAuth(self, "Admin", config=config)
        self.rest_api = self._build_api(config, functions)
        self.firewall = WebFirewall(self, "Firewall", config=config, key=self.key)
        self.firewall.protect("ApiAssociation", self.rest_api.api.deployment_stage.stage_arn)
        self.jobs = Jobs(
            self,
            "Jobs",
            functions=functions,
            dead_letters=self.factory.dead_letters,
            environment=config.name,
            key=self.key,
        )
        self._build_pipelines(config, foundation, deps)
        self._build_oncall_actions(config, functions)
        self.security_ops = self._build_security_ops(config, deps)
        if "admin" in functions:
            grant_admin_routes(
                self, functions["admin"], config=config, firewall=self.firewall, admin=self.admin
            )
        self._build_outputs(config)

    def _dependencies(self, config: EnvironmentConfig, foundation: FoundationStack) -> Dependencies:
        """What the functions are wired to, from the foundation stack."""
        database, cache = foundation.database, foundation.cache
        return Dependencies(
            vpc=foundation.network.vpc,
            isolated=foundation.network.isolated,
            egress=foundation.network.egress,
            security_group=foundation.network.function_security_group,
            db_secret=database.secret,
            db_host=database.proxy.endpoint,
            db_port=database.proxy_port,
            db_name=database.database_name,
            db_direct_host=database.direct_host,
            db_direct_port=database.direct_port,
            db_direct_security_group=database.direct_client_security_group,
            redis_secret=cache.auth_secret,
            redis_host=cache.host,
            redis_port=cache.port,
            pii_salt_secret=foundation.pii_salt,
            archive_bucket_name=archive_bucket_name(self, config.name),
            topics=dict(foundation.alerts.topics),
            data_key=foundation.key,
        )

    def _build_migrations(self, functions: dict[str, lambda_.Function]) -> SchemaMigrations | None:
        """The migrations custom resource, which every other function waits for."""
        if "migrations" not in functions:
            return None
        migrations = SchemaMigrations(self, "Migrations", handler=functions["migrations"], key=self.key)
        for name, function in functions.items():
            if name != "migrations":
                # New code must not run against the old schema.
                function.node.add_dependency(migrations.resource)
        return migrations

    def _build_ingest(
        self, config: EnvironmentConfig, functions: dict[str, lambda_.Function], topics: dict[str, sns.ITopic]
    ) -> IngestQueue | None:
        if "ingest" not in functions:
            return None
        return IngestQueue(
            self,
            "Ingest",
            config=config,
            key=self.key,
            consumer=functions["ingest"],
            consumer_timeout=Duration.seconds(config.sizing("ingest").timeout_s),
            topics=topics,
        )

    def _build_api(self, config: EnvironmentConfig, functions: dict[str, lambda_.Function]) -> RestApi:
        """The REST API over the API functions (and the ingest queue); each function learns its API keys."""
        api_functions: dict[str, lambda_.IFunction] = {
            name: fn for name, fn in functions.items() if function_spec(name).kind == "api"
        }
        if "score" in functions:
            # The API invokes the scoring alias, whose provisioned concurrency scales on latency (issue 27).
            self.scoring_capacity = ScoringCapacity(
                self,
                "ScoringCapacity",
                function=functions["score"],
                function_name=function_name(config.name, "score"),
                api_name=f"ticketguard-{config.name}",
                stage_name=config.name,
                capacity=config.scoring_capacity,
            )
            api_functions["score"] = self.scoring_capacity.alias
        rest_api = RestApi(
            self,
            "Api",
            config=config,
            functions=api_functions,
            user_pool=self.admin.user_pool,
            key=self.key,
            queues={"ingest": self.ingest.integration} if self.ingest else None,
        )
        for name, key_ids in rest_api.allowed_api_key_ids.items():
            functions[name].add_environment(ALLOWED_API_KEY_IDS_ENV, Fn.join(",", key_ids))
        return rest_api

    def _build_pipelines(
        self, config: EnvironmentConfig, foundation: FoundationStack, deps: Dependencies
    ) -> None:
        """Retention (its catalogue and state machine) and the retraining pipeline."""
        functions = self.factory.functions
        self.retention = RetentionCatalog(
            self,
            "Retention",
            config=config,
            function=functions.get("retention"),
            loop=self.jobs.loops.get("retention"),
            archive_bucket_name=deps.archive_bucket_name,
            data_key=foundation.key,
            master_key=foundation.archive_master_key,
            topics=deps.topics,
        )
        self.retrain = RetrainPipeline(
            self,
            "Retrain",
            config=config,
            functions=functions,
            archive_bucket_name=deps.archive_bucket_name,
            data_key=foundation.key,
            key=self.key,
            topics=deps.topics,
            dead_letters=self.factory.dead_letters,
        )

    def _build_oncall_actions(
        self, config: EnvironmentConfig, functions: dict[str, lambda_.Function]
    ) -> None:
        """The alarms that act: a fraud-rate spike -> the oncall_actions function (issue 27)."""
        self.oncall_actions: OnCallActions | None = None
        if "oncall_actions" in functions:
            self.oncall_actions = OnCallActions(
                self,
                "OnCallActions",
                environment=config.name,
                function=functions["oncall_actions"],
                dead_letters=self.factory.dead_letters,
            )

    def _build_security_ops(self, config: EnvironmentConfig, deps: Dependencies) -> SecurityOperations | None:
        """The SIEM's subscriptions, the findings rule to the SOAR, their permissions and alarms (issue 25)."""
        functions, groups = self.factory.functions, self.factory.log_groups
        if "siem" not in functions or "soar" not in functions:
            return None
        sources: dict[str, logs.ILogGroup] = {
            "access": self.rest_api.access_logs,
            "waf": self.firewall.log_group,
        }
        if "score" in groups:
            sources["scoring"] = groups["score"]
        return SecurityOperations(
            self,
            "SecurityOps",
            config=config,
            siem=functions["siem"],
            soar=functions["soar"],
            firewall=self.firewall,
            admin=self.admin,
            sources=sources,
            dead_letters=self.factory.dead_letters,
        )

    def _build_outputs(self, config: EnvironmentConfig) -> None:
        CfnOutput(self, "ApiUrl", value=self.rest_api.api.url)
        CfnOutput(self, "AdminUserPoolId", value=self.admin.user_pool.user_pool_id)
        CfnOutput(self, "AdminClientId", value=self.admin.client.user_pool_client_id)
        CfnOutput(self, "WafBlockListName", value=f"ticketguard-{config.name}-blocklist")
        CfnOutput(self, "WafBlockListId", value=self.firewall.block_list.attr_id)
        for name, api_key in self.rest_api.api_keys.items():
            CfnOutput(
                self,
                f"ApiKeyId{''.join(part.capitalize() for part in name.split('-'))}",
                value=api_key.key_id,
            )


class MonitoringStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        env: Environment,
        foundation: FoundationStack,
        service: ServiceStack,
    ) -> None:
        super().__init__(scope, construct_id, env=env, description="TicketGuard alarms and dashboard")
        # Deployed after the others, but importing none of their exports (issue 22): what it watches is
        # named (fixed names, or the SSM parameter of the Redis group's generated id), so that
        # CloudFormation never refuses to replace or rename a function, a log group or a topic.
        self.add_stack_dependency(service)
        name = config.name
        deployed = list(service.factory.functions)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            topics=self._topics(name, foundation),
            api_name=f"ticketguard-{name}",
            stage_name=name,
            functions={function: function_name(name, function) for function in deployed},
            function_log_groups={function: log_group_name(name, function) for function in deployed},
            access_log_group=access_log_group_name(name),
            waf_log_group=waf_log_group_name(name),
            web_acl_name=f"ticketguard-{name}-api",
            db_instance_identifier=foundation.database.instance_identifier,
            redis_replication_group_id=ssm.StringParameter.value_for_string_parameter(
                self, redis_replication_group_parameter(name)
            ),
            dead_letters_queue=dead_letters_queue_name(name),
            proxy_name=ssm.StringParameter.value_for_string_parameter(self, proxy_name_parameter(name)),
        )

    def _topics(self, name: str, foundation: FoundationStack) -> dict[str, sns.ITopic]:
        """The foundation's alert topics by their fixed ARNs (no export imported)."""
        return {
            severity: sns.Topic.from_topic_arn(self, f"{severity}Topic", topic_arn(self, name, severity))
            for severity in foundation.alerts.topics
        }


def build(app: App, config: EnvironmentConfig, paths: BuildPaths, account: str | None) -> list[Stack]:
    env = Environment(account=config.account or account, region=config.region)
    prefix = f"TicketGuard-{config.name}"
    foundation = FoundationStack(app, f"{prefix}-Foundation", config=config, env=env)
    service = ServiceStack(
        app, f"{prefix}-Service", config=config, env=env, foundation=foundation, paths=paths
    )
    monitoring = MonitoringStack(
        app, f"{prefix}-Monitoring", config=config, env=env, foundation=foundation, service=service
    )
    stacks: list[Stack] = [foundation, service, monitoring]
    for stack in stacks:
        for tag, value in (("project", "ticketguard"), ("environment", config.name)):
            # DBProxyTargetGroup takes no Tags property.
            Tags.of(stack).add(tag, value, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"])
    return stacks

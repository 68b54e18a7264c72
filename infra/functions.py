"""Every Lambda function of the project, made by one helper so that their common settings live in
one place: Python 3.12, the configured architecture, X-Ray tracing, a KMS-encrypted log group with
30-day retention, a role of its own holding only what that function needs, the shared VPC security
group, and for asynchronous (scheduled) functions a dead-letter queue and bounded retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.assets import handler_exists, handler_path, stage_function_code
from infra.config import EnvironmentConfig
from infra.keys import key_use
from infra.log_groups import encrypted_log_group
from infra.nag import acknowledge, finding_text
from shared.names import NAMESPACE, SERVICE

# api: API Gateway; job: EventBridge (asynchronous: DLQ, retries); custom_resource: CloudFormation;
# task: a step of a state machine (synchronous; the state machine retries and alarms);
# queue: an SQS event source's consumer (the queue retries, then its dead-letter queue: infra/ingest.py).
Kind = Literal["api", "job", "custom_resource", "task", "queue"]

MODEL_MOUNT = "/opt/model"
# The zip functions and their layers: the dependencies layer is built from cp312 wheels (layers/build.py).
RUNTIME = lambda_.Runtime.PYTHON_3_12


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    description: str
    kind: Kind
    database: bool = True
    cache: bool = False
    model: bool = False
    egress: bool = False  # needs the Internet (chain RPC) through the NAT
    # read and write on these archive-bucket prefixes; never delete: an archive's end of life is the
    # bucket's lifecycle rules (issue 16)
    archive_prefixes: tuple[str, ...] = ()
    alerts: bool = False  # publishes to the severity topics
    required: bool = True  # a missing handler fails the synth; optional ones are skipped with a warning


CATALOG: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "score", "POST /api/v1/ml/predict/fraud: features, model, decision", "api", cache=True, model=True
    ),
    FunctionSpec("metrics", "GET /api/v1/metrics: the five KPIs and operational figures", "api", cache=True),
    # The monitoring page (issue 26): its shell and files, and its data routes; the model layer for the
    # served model's manifest (drift, health).
    FunctionSpec(
        "monitoring", "/admin/monitoring: the monitoring page and its data", "api", cache=True, model=True
    ),
    # health reports the model's status too, so it mounts the model layer.
    FunctionSpec("health", "GET /health: per-dependency status", "api", cache=True, model=True),
    FunctionSpec(
        "ingest", "The ingest queue's consumer: batches of the marketplace's facts -> PostgreSQL", "queue"
    ),
    # Redis: a blocklist change invalidates the scoring lookup's cached verdict (shared/soar/blocklist.py).
    # Through the NAT, as the SOAR: its routes update the WAF IP sets and enable Cognito users, which have
    # no endpoint in the VPC (infra/admin_access.py lists every AWS call of its routes).
    FunctionSpec(
        "admin",
        "/api/v1/admin/...: review queue, lists, labels, audit, models (Cognito + MFA)",
        "api",
        cache=True,
        egress=True,
    ),
    FunctionSpec("ingest_batches", "GET /api/v1/events/batches/{batch_id}: a queued batch's results", "api"),
    FunctionSpec("etl", "Daily ETL: chain logs, backend tables, IP geo", "job", cache=True, egress=True),
    # features measures the served model's drift after each run: it reads the model's manifest.
    FunctionSpec("features", "Hourly/daily batch features", "job", cache=True, model=True),
    FunctionSpec("refresh_views", "Refresh the KPI materialized views", "job"),
    # The model-ops job (issue 17): quality from labels, the rollout watchdog, emergency retraining; it
    # reads the served model (drift, version) and rewrites models/ROLLOUT.json (infra/retrain.py).
    FunctionSpec(
        "model_ops",
        "Model quality from labels, rollout watchdog, emergency retraining",
        "job",
        model=True,
        # Through the NAT: it starts the retraining state machine (states:StartExecution), and the
        # isolated subnets have no Step Functions endpoint.
        egress=True,
    ),
    # The retraining pipeline's two Lambda steps (infra/retrain.py: the state machine invokes them and
    # grants their S3 access there; training itself runs on CodeBuild).
    FunctionSpec("retrain_export", "Retraining: plan (bi-weekly) and export the training set", "task"),
    FunctionSpec(
        "retrain_publish", "Retraining: verify a promoted model and publish it", "task", database=False
    ),
    # Invoked round after round by its schedule's state machine (infra/rounds.py), synchronously.
    FunctionSpec(
        "retention",
        "Weekly retention: archive to S3, then delete (spec 2.1)",
        "task",
        # audit-logs/ live in the Object Lock bucket: infra/retention.py grants that one.
        archive_prefixes=("transaction-logs/", "ml-predictions/"),
    ),
    FunctionSpec("migrations", "CloudFormation custom resource: apply SQL migrations", "custom_resource"),
    # Issue 27: the alarms' actions (infra/oncall_actions.py: an EventBridge rule on their state changes).
    FunctionSpec(
        "oncall_actions", "Alarm actions: a fraud-rate spike tightens REQUIRE_2FA for a fixed time", "task"
    ),
    # The pricing experiment (spec 1.5, issue 28): assignment and state (API), and the settlement job;
    # both keep the arm statistics hot in Redis.
    FunctionSpec(
        "pricing", "POST /api/v1/pricing/assignments, GET /api/v1/pricing/experiment", "api", cache=True
    ),
    FunctionSpec(
        "pricing_settle", "Hourly settlement of the pricing experiment's rewards", "job", cache=True
    ),
    # Security operations (issue 25; infra/security_ops.py wires their triggers and AWS permissions).
    # Through the NAT: EventBridge (siem), WAF and Cognito (soar) have no endpoint in the VPC.
    FunctionSpec(
        "siem", "SIEM: log subscriptions and the database sources -> findings", "job", cache=True, egress=True
    ),
    FunctionSpec(
        "soar",
        "SOAR: findings -> responses (WAF, blocklist, Cognito, pages); the lift job",
        "job",
        cache=True,
        egress=True,
        alerts=True,
    ),
)


def spec(name: str) -> FunctionSpec:
    return next(item for item in CATALOG if item.name == name)


def function_name(environment: str, name: str) -> str:
    """A function's deployed name, `ticketguard-<env>-<name>`: fixed, so that the monitoring stack names
    it (metrics, log groups) without importing an export of the service stack, which CloudFormation
    would then refuse to change."""
    return f"ticketguard-{environment}-{name.replace('_', '-')}"


def log_group_name(environment: str, name: str) -> str:
    """A function's log group (Lambda's own default name for it)."""
    return f"/aws/lambda/{function_name(environment, name)}"


@dataclass(frozen=True)
class Dependencies:
    """What the functions may be wired to (from the foundation stack)."""

    vpc: ec2.IVpc
    isolated: ec2.SubnetSelection
    egress: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup
    db_secret: secretsmanager.ISecret
    db_host: str
    db_port: int
    db_name: str
    # The instance itself, for jobs and migrations (RDS Proxy refuses their startup parameters and
    # pins their sessions), and the security group the instance admits them by.
    db_direct_host: str
    db_direct_port: int
    db_direct_security_group: ec2.ISecurityGroup
    redis_secret: secretsmanager.ISecret
    redis_host: str
    redis_port: int
    pii_salt_secret: secretsmanager.ISecret
    archive_bucket_name: str
    topics: dict[str, sns.ITopic]
    data_key: kms.IKey  # encrypts the secrets, the bucket and the topics (foundation stack)


def dead_letters_queue_name(environment: str) -> str:
    return f"ticketguard-{environment}-job-dead-letters"


class FunctionFactory(Construct):
    """Holds the layers, the staging directory and the dead-letter queue; `make(spec)` builds one function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        deps: Dependencies,
        key: kms.IKey,
        deps_layer_dir: Path,
        model_layer_dir: Path,
        staging_dir: Path,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.deps = deps
        self.key = key
        self.staging_dir = staging_dir
        self.architecture = (
            lambda_.Architecture.ARM_64 if config.architecture == "arm64" else lambda_.Architecture.X86_64
        )
        for path, what in ((deps_layer_dir, "dependencies"), (model_layer_dir, "model")):
            if not path.is_dir():
                raise FileNotFoundError(
                    f"the {what} layer directory {path} does not exist: run `make layers`"
                )
        self.deps_layer = self._layer(
            "DepsLayer", deps_layer_dir, "Runtime dependencies (requirements lock, without boto3)"
        )
        self.model_layer = self._layer(
            "ModelLayer", model_layer_dir, f"Compiled fraud model, mounted at {MODEL_MOUNT}"
        )
        self.dead_letters = sqs.Queue(
            self,
            "JobDeadLetters",
            queue_name=dead_letters_queue_name(config.name),
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.functions: dict[str, lambda_.Function] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}

    def _layer(self, construct_id: str, directory: Path, description: str) -> lambda_.LayerVersion:
        """A layer for the functions' runtime and architecture (zip functions only)."""
        return lambda_.LayerVersion(
            self,
            construct_id,
            code=lambda_.Code.from_asset(str(directory)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[self.architecture],
            description=description,
        )

    def make(self, spec: FunctionSpec) -> lambda_.Function | None:
        if not handler_exists(spec.name):
            self._note_missing(spec)
            return None
        construct_id = "".join(part.capitalize() for part in spec.name.split("_"))
        log_group = encrypted_log_group(
            self,
            f"{construct_id}Logs",
            key=self.key,
            log_group_name=log_group_name(self.config.name, spec.name),
        )
        role = self._build_role(spec, construct_id, log_group)
        function = self._build_function(spec, construct_id, role, log_group)
        if spec.kind == "job":
            # Lambda sends a failed event to the KMS-encrypted dead-letter queue with this role: the
            # SendMessage the Function grants is refused without these two on the queue's key.
            queue_key = self.dead_letters.encryption_master_key
            assert queue_key is not None
            role.add_to_policy(key_use(self, "DeadLetterQueueKey", queue_key, "sqs"))
        self._acknowledge(spec, function, role)
        self.functions[spec.name] = function
        self.log_groups[spec.name] = log_group
        return function

    def _note_missing(self, spec: FunctionSpec) -> None:
        """A warning for a required function without a handler, a note for an optional one."""
        message = f"functions/{spec.name}/handler.py does not exist: the {spec.name} function is not deployed"
        if spec.required:
            Annotations.of(self).add_warning_v2(f"ticketguard:missing-{spec.name}", message)
        else:
            Annotations.of(self).add_info(message)

    def _build_role(self, spec: FunctionSpec, construct_id: str, log_group: logs.LogGroup) -> iam.Role:
        """The function's own role: its log group, VPC networking, and what its spec needs."""
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"TicketGuard {spec.name}: least privilege",
        )
        log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="VpcNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        )
        key_uses = {"secretsmanager"}
        if spec.archive_prefixes:
            self._grant_archive(spec, role)
            key_uses.add("s3")
        if spec.alerts:
            self._grant_alerts(role)
            key_uses.add("sns")
        if spec.name == "etl" and self.config.chain_rpc_url_parameter:
            self._grant_chain_rpc_url(role, self.config.chain_rpc_url_parameter)
        # Grants are written on the role only: a grant through the foundation stack's key or secret
        # policies would make that stack depend on this one (the default key policy already
        # delegates to IAM within the account).
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadSecrets",
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[secret.secret_arn for secret in self._secrets(spec)],
            )
        )
        role.add_to_policy(key_use(self, "DataKeyViaServices", self.deps.data_key, sorted(key_uses)))
        return role

    def _secrets(self, spec: FunctionSpec) -> list[secretsmanager.ISecret]:
        """The secrets the function reads: the log salt, and the database's and the cache's if it uses them."""
        deps = self.deps
        secrets = [deps.pii_salt_secret]
        if spec.database:
            secrets.append(deps.db_secret)
        if spec.cache:
            secrets.append(deps.redis_secret)
        return secrets

    def _archive_bucket_arn(self) -> str:
        return f"arn:{Stack.of(self).partition}:s3:::{self.deps.archive_bucket_name}"

    def _grant_archive(self, spec: FunctionSpec, role: iam.Role) -> None:
        """Read and write on the spec's archive prefixes, and listing them; never delete."""
        bucket_arn = self._archive_bucket_arn()
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ArchiveObjects",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[f"{bucket_arn}/{prefix}*" for prefix in spec.archive_prefixes],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ArchiveListing",
                actions=["s3:ListBucket"],
                resources=[bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in spec.archive_prefixes]}},
            )
        )

    def _grant_alerts(self, role: iam.Role) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PublishAlerts",
                actions=["sns:Publish"],
                resources=[t.topic_arn for t in self.deps.topics.values()],
            )
        )

    def _grant_chain_rpc_url(self, role: iam.Role, parameter: str) -> None:
        stack = Stack.of(self)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ChainRpcUrlParameter",
                actions=["ssm:GetParameter"],
                resources=[
                    f"arn:{stack.partition}:ssm:{stack.region}:{stack.account}:parameter/"
                    + parameter.lstrip("/")
                ],
            )
        )

    def _environment(self, spec: FunctionSpec) -> dict[str, str]:
        """The function's environment variables: the common ones, then what its spec needs."""
        config, deps = self.config, self.deps
        environment = {
            "TG_ENVIRONMENT": config.name,
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "TG_LOG_PII_SALT_SECRET_ARN": deps.pii_salt_secret.secret_arn,
        }
        if spec.database:
            environment |= {
                "TG_DB_SECRET_ARN": deps.db_secret.secret_arn,
                "TG_DB_HOST": deps.db_host,
                "TG_DB_PORT": str(deps.db_port),
                "TG_DB_NAME": deps.db_name,
            }
        if _direct_db(spec):
            environment |= {
                "TG_DB_DIRECT_HOST": deps.db_direct_host,
                "TG_DB_DIRECT_PORT": str(deps.db_direct_port),
            }
        if spec.cache:
            environment |= {
                "TG_REDIS_SECRET_ARN": deps.redis_secret.secret_arn,
                "TG_REDIS_HOST": deps.redis_host,
                "TG_REDIS_PORT": str(deps.redis_port),
            }
        if spec.name == "admin":  # shared/admin/auth.py: the admin network (WAF and the resource policy too)
            environment["TG_ADMIN_ALLOWED_CIDRS"] = ",".join(config.admin_cidrs)
        if spec.model:
            environment["TG_MODEL_DIR"] = MODEL_MOUNT
        if spec.archive_prefixes:
            environment["TG_ARCHIVE_BUCKET"] = deps.archive_bucket_name
        if spec.alerts:
            for severity, topic in deps.topics.items():
                environment[f"TG_ALERT_TOPIC_ARN_{severity.upper()}"] = topic.topic_arn
        if spec.name == "etl":
            if config.contract_address:
                environment["TG_CONTRACT_ADDRESS"] = config.contract_address
            if config.chain_rpc_url_parameter:
                environment["TG_CHAIN_RPC_URL_PARAMETER"] = config.chain_rpc_url_parameter
        return environment

    def _build_function(
        self, spec: FunctionSpec, construct_id: str, role: iam.Role, log_group: logs.LogGroup
    ) -> lambda_.Function:
        deps, sizing = self.deps, self.config.sizing(spec.name)
        is_async = spec.kind == "job"  # invoked asynchronously by EventBridge
        return lambda_.Function(
            self,
            construct_id,
            function_name=function_name(self.config.name, spec.name),
            runtime=RUNTIME,
            handler=handler_path(spec.name),
            code=lambda_.Code.from_asset(str(stage_function_code(spec.name, self.staging_dir))),
            layers=[self.deps_layer, self.model_layer] if spec.model else [self.deps_layer],
            description=spec.description,
            architecture=self.architecture,
            memory_size=sizing.memory_mb,
            timeout=Duration.seconds(sizing.timeout_s),
            reserved_concurrent_executions=sizing.reserved_concurrency,
            environment=self._environment(spec),
            environment_encryption=self.key,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            vpc=deps.vpc,
            vpc_subnets=deps.egress if spec.egress else deps.isolated,
            security_groups=[
                deps.security_group,
                *([deps.db_direct_security_group] if _direct_db(spec) else []),
            ],
            dead_letter_queue=self.dead_letters if is_async else None,
            retry_attempts=2 if is_async else None,
            max_event_age=Duration.hours(6) if is_async else None,
            recursive_loop=lambda_.RecursiveLoop.TERMINATE,
        )

    def _acknowledge(self, spec: FunctionSpec, function: lambda_.Function, role: iam.Role) -> None:
        """The cdk-nag findings every function has, each with its reason."""
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to python3.12: the dependencies layer is built from cp312 wheels for this runtime "
            "(layers/build.py); moving runtime means rebuilding and re-testing the layer.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Lambda VPC networking (ec2:*NetworkInterface*) and X-Ray (PutTraceSegments) accept no "
            "resource narrower than '*'; every data-plane permission of this role is scoped.",
        )
        bucket_arn = self._archive_bucket_arn()
        for prefix in spec.archive_prefixes:
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{finding_text(role, f'{bucket_arn}/{prefix}*')}]",
                f"Object-level access is limited to the {prefix} prefix of the archive bucket.",
            )


def _direct_db(spec: FunctionSpec) -> bool:
    """The request path and the queue consumer go through RDS Proxy (many short transactions from many
    concurrent instances); jobs and migrations to the instance itself."""
    return spec.database and spec.kind not in {"api", "queue"}


__all__ = [
    "CATALOG",
    "Dependencies",
    "FunctionFactory",
    "FunctionSpec",
    "dead_letters_queue_name",
    "function_name",
    "log_group_name",
    "spec",
]

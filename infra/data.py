"""Data stores: RDS PostgreSQL 16 behind RDS Proxy, ElastiCache Redis 7, the S3 archive bucket.

Functions never see a password in their environment: they get the ARN of a Secrets Manager secret
and the endpoint, and build their connection URL at cold start (`shared/runtime_secrets.py`).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.log_groups import encrypted_log_group
from infra.nag import acknowledge
from infra.network import Network, closed_security_group
from shared.retention.policy import DATA_TYPES, DataType

PROXY_PORT = 5432  # RDS Proxy for PostgreSQL always listens here
# The engine: the major the embedded PostgreSQL of the local stack and the tests runs (pgserver, 16), so
# that what passes here runs there; the minor one of aws-cdk-lib's constants, at most two behind the
# newest it lists for the major (a test holds it: RDS stops creating instances on old minors on
# published dates, so an aged pin breaks a fresh deploy). Upgrading: README, "Upgrading PostgreSQL".
POSTGRES_VERSION = rds.PostgresEngineVersion.VER_16_13
# Left out of the generated master password: one list for the first password and every rotated one,
# so that a rotation cannot produce a password the first one could not have been.
CREDENTIAL_EXCLUDED_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"


# Spec 2.1's archived data types (shared/retention/policy.py) whose archive is this module's bucket.
# Audit logs go to a bucket of their own under Object Lock (infra/retention.py: AuditArchive). Rows with
# no archive tier: on-chain data (permanent, on chain), user sessions (30 days, deleted from
# PostgreSQL), Redis cache (5-minute TTL); none of them is ever written to a bucket.
ARCHIVE_BUCKET_TYPES = tuple(t for t in DATA_TYPES if t.archived and t.bucket == "archive")
INSTANT_RETRIEVAL_AFTER_DAYS = 30
ATHENA_RESULTS_PREFIX = "athena-results/"  # the archive's Athena workgroup (infra/retention.py)


def archive_lifecycle_rule(data_type: DataType, *, noncurrent_days: int) -> s3.LifecycleRule:
    """A data type's archive prefix: Glacier Instant Retrieval after 30 days (no Deep Archive: Athena
    cannot read it, and the archive must stay queryable, issue 16), then expired when the type's total
    retention ends. Objects are written when a record leaves hot storage, so that is `archive_days`
    after the upload."""
    return s3.LifecycleRule(
        id=data_type.prefix.rstrip("/"),
        prefix=data_type.prefix,
        transitions=[
            s3.Transition(
                storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                transition_after=Duration.days(INSTANT_RETRIEVAL_AFTER_DAYS),
            )
        ],
        expiration=Duration.days(data_type.archive_days),
        noncurrent_version_expiration=Duration.days(noncurrent_days),
    )


def private_bucket(scope: Construct, construct_id: str, *, key: kms.IKey | None, **props: Any) -> s3.Bucket:
    """A bucket as every TicketGuard bucket is: TLS 1.2 only, never public, owner-enforced, versioned;
    SSE-KMS with `key` (bucket key on), or SSE-S3 without one (a server access log target)."""
    encryption: dict[str, Any] = (
        {"encryption": s3.BucketEncryption.KMS, "encryption_key": key, "bucket_key_enabled": True}
        if key is not None
        else {"encryption": s3.BucketEncryption.S3_MANAGED}
    )
    return s3.Bucket(
        scope,
        construct_id,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        **encryption,
        **props,
    )


def archive_bucket_name(scope: Construct, environment: str) -> str:
    """Deterministic, so that the service stack can name it without a cross-stack reference."""
    stack = Stack.of(scope)
    return f"ticketguard-{environment}-archive-{stack.account}-{stack.region}"


class Database(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        network: Network,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        db = config.database
        self.instance_identifier = f"ticketguard-{config.name}"
        self.security_group = closed_security_group(
            self, "DbSg", vpc=network.vpc, description="PostgreSQL: from RDS Proxy, jobs and migrations"
        )
        self.proxy_security_group = closed_security_group(
            self, "ProxySg", vpc=network.vpc, description="RDS Proxy: from the functions only"
        )
        # RDS exports to the group of this fixed name.
        postgres_log_group = encrypted_log_group(
            self,
            "PostgresLogs",
            key=key,
            log_group_name=f"/aws/rds/instance/{self.instance_identifier}/postgresql",
        )
        self.instance = self._build_instance(config, network, key)
        # On the DB resource only: the proxy (a child of the instance) must not wait for the log group.
        self.instance.node.default_child.node.add_dependency(postgres_log_group)  # type: ignore[union-attr]
        acknowledge(
            self.instance.node.find_child("MonitoringRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
            "RDS enhanced monitoring needs exactly this AWS-managed policy on the role that RDS assumes.",
        )
        assert self.instance.secret is not None
        self.secret: secretsmanager.ISecret = self.instance.secret
        self.rotation = self.instance.add_rotation_single_user(
            automatically_after=Duration.days(db.rotation_days),
            vpc_subnets=network.isolated,
            exclude_characters=CREDENTIAL_EXCLUDED_CHARACTERS,
        )
        self.proxy = self._build_proxy(config, network)
        self._build_direct_access(config, network)
        self.database_name = db.database_name
        self.proxy_port = PROXY_PORT
        self.direct_host = self.instance.db_instance_endpoint_address
        self.direct_port = db.port

    def _build_instance(
        self, config: EnvironmentConfig, network: Network, key: kms.IKey
    ) -> rds.DatabaseInstance:
        """The PostgreSQL instance, its parameter group (of the instance's engine) and generated credentials."""
        db = config.database
        engine = rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION)
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            parameters={
                "rds.force_ssl": "1",
                "log_min_duration_statement": "1000",
                "password_encryption": "scram-sha-256",
                # The request path's timeout as the server default: connections through RDS Proxy
                # cannot set it (no startup options; SET pins). Jobs set their own at connect.
                "statement_timeout": str(db.statement_timeout_ms),
            },
        )
        return rds.DatabaseInstance(
            self,
            "Postgres",
            instance_identifier=self.instance_identifier,
            engine=engine,
            instance_type=ec2.InstanceType(db.instance_type),
            vpc=network.vpc,
            vpc_subnets=network.isolated,
            security_groups=[self.security_group],
            port=db.port,
            database_name=db.database_name,
            credentials=rds.Credentials.from_generated_secret(
                "ticketguard_admin", encryption_key=key, exclude_characters=CREDENTIAL_EXCLUDED_CHARACTERS
            ),
            parameter_group=parameters,
            storage_encrypted=True,
            storage_encryption_key=key,
            allocated_storage=db.allocated_storage_gb,
            max_allocated_storage=db.max_allocated_storage_gb,
            storage_type=rds.StorageType.GP3,
            multi_az=db.multi_az,
            deletion_protection=db.deletion_protection,
            backup_retention=Duration.days(db.backup_retention_days),
            delete_automated_backups=False,
            iam_authentication=True,
            monitoring_interval=Duration.seconds(60),  # enhanced monitoring: OS metrics for the dashboard
            cloudwatch_logs_exports=["postgresql"],
            auto_minor_version_upgrade=True,
            # A new major in POSTGRES_VERSION upgrades the instance in place (with its parameter group).
            allow_major_version_upgrade=True,
            copy_tags_to_snapshot=True,
            publicly_accessible=False,
            removal_policy=RemovalPolicy.SNAPSHOT if config.is_prod else RemovalPolicy.DESTROY,
        )

    def _build_proxy(self, config: EnvironmentConfig, network: Network) -> rds.DatabaseProxy:
        """RDS Proxy for the functions (it reads the credentials through the Secrets Manager endpoint)."""
        db = config.database
        proxy = self.instance.add_proxy(
            "Proxy",
            vpc=network.vpc,
            vpc_subnets=network.isolated,
            secrets=[self.secret],
            security_groups=[self.proxy_security_group],
            require_tls=True,
            iam_auth=False,
            max_connections_percent=db.proxy_max_connections_percent,
            borrow_timeout=Duration.seconds(db.proxy_borrow_timeout_s),
            idle_client_timeout=Duration.minutes(15),
        )
        # add_proxy() already opened proxy -> PostgreSQL on the instance port.
        # The proxy reads the credentials from Secrets Manager, through its VPC endpoint.
        self.proxy_security_group.add_egress_rule(
            network.endpoint_security_group, ec2.Port.tcp(443), "to the Secrets Manager endpoint"
        )
        network.admit_functions(self.proxy_security_group, PROXY_PORT, "RDS Proxy")
        return proxy

    def _build_direct_access(self, config: EnvironmentConfig, network: Network) -> None:
        db = config.database
        # Jobs and migrations hold sessions and send startup parameters, which RDS Proxy refuses or
        # pins: they connect to the instance itself. Only functions that also carry this group may.
        self.direct_client_security_group = closed_security_group(
            self, "DirectClientSg", vpc=network.vpc, description="Jobs and migrations: to PostgreSQL directly"
        )
        self.security_group.add_ingress_rule(
            self.direct_client_security_group, ec2.Port.tcp(db.port), "from the jobs and migrations"
        )
        self.direct_client_security_group.add_egress_rule(
            self.security_group, ec2.Port.tcp(db.port), "to PostgreSQL"
        )


def redis_replication_group_parameter(environment: str) -> str:
    return f"/ticketguard/{environment}/redis-replication-group-id"


class Cache(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        network: Network,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        cache = config.cache
        self.port = cache.port
        self.auth_secret = secretsmanager.Secret(
            self,
            "AuthToken",
            description="ElastiCache Redis AUTH token (rediss://:TOKEN@host:port)",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=64, include_space=False
            ),
        )
        self.security_group = closed_security_group(
            self, "RedisSg", vpc=network.vpc, description="Redis: from the functions only"
        )
        network.admit_functions(self.security_group, cache.port, "Redis")
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description="TicketGuard Redis (isolated subnets)",
            subnet_ids=network.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids,
        )
        self.slow_log_group = encrypted_log_group(self, "SlowLog", key=key)
        self.replication_group = self._build_replication_group(config, subnet_group, key)
        self.host = self.replication_group.attr_primary_end_point_address
        # The generated id, for the monitoring stack's dashboard: read from SSM at its deploy rather than
        # imported (an import would stop CloudFormation from ever replacing the group).
        ssm.StringParameter(
            self,
            "ReplicationGroupIdParameter",
            parameter_name=redis_replication_group_parameter(config.name),
            description="TicketGuard Redis replication group id (the dashboard's Redis widget)",
            string_value=self.replication_group.ref,
        )

    def _build_replication_group(
        self, config: EnvironmentConfig, subnet_group: elasticache.CfnSubnetGroup, key: kms.IKey
    ) -> elasticache.CfnReplicationGroup:
        """Redis 7: TLS required, AUTH, encrypted at rest, Multi-AZ with failover when it has replicas."""
        cache = config.cache
        multi_az = cache.multi_az and cache.replicas > 1
        return elasticache.CfnReplicationGroup(
            self,
            "Redis",
            replication_group_description=f"TicketGuard {config.name}: features, sliding windows, rate limits",
            engine="redis",
            engine_version=cache.engine_version,
            cache_node_type=cache.node_type,
            num_cache_clusters=cache.replicas,
            automatic_failover_enabled=multi_az,
            multi_az_enabled=multi_az,
            port=cache.port,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            kms_key_id=key.key_arn,
            auth_token=self.auth_secret.secret_value.unsafe_unwrap(),
            auto_minor_version_upgrade=True,
            snapshot_retention_limit=7 if config.is_prod else 1,
            log_delivery_configurations=[
                elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty(
                    destination_type="cloudwatch-logs",
                    destination_details=elasticache.CfnReplicationGroup.DestinationDetailsProperty(
                        cloud_watch_logs_details=elasticache.CfnReplicationGroup.CloudWatchLogsDestinationDetailsProperty(
                            log_group=self.slow_log_group.log_group_name
                        )
                    ),
                    log_format="json",
                    log_type="slow-log",
                )
            ],
        )


class ArchiveBucket(Construct):
    """Archive tier of spec 2.1: encrypted, TLS only, never public, versioned, lifecycle per data type."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        retain = RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.DESTROY
        self.access_logs = private_bucket(
            self,
            "AccessLogs",
            key=None,  # the log-delivery target cannot use SSE-KMS
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(365),
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
            removal_policy=retain,
            auto_delete_objects=False,
        )
        rules = [archive_lifecycle_rule(t, noncurrent_days=30) for t in ARCHIVE_BUCKET_TYPES]
        rules.append(
            s3.LifecycleRule(
                id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)
            )
        )
        rules.append(
            s3.LifecycleRule(
                id="athena-results",
                prefix=ATHENA_RESULTS_PREFIX,
                expiration=Duration.days(30),
                noncurrent_version_expiration=Duration.days(1),
            )
        )
        self.bucket = private_bucket(
            self,
            "Archive",
            key=key,
            bucket_name=archive_bucket_name(self, config.name),
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="archive/",
            lifecycle_rules=rules,
            removal_policy=retain,
        )

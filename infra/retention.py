"""Retention (spec 2.1, issue 16): the audit archive under S3 Object Lock (compliance mode), the Glue
database and tables over both archives with an Athena workgroup to query them, what the retention
function may do beyond the factory's grants, and the alarms on its failures.

- `AuditArchive` (foundation stack, stateful): a bucket of its own, because Object Lock's default
  retention applies to a whole bucket. Each object is locked in compliance mode for the archive part
  of the audit row (6 years in prod; 1 day in dev, so that a dev stack can be torn down), then the
  lifecycle expires it.
- `RetentionCatalog` (service stack): one Glue table per archived PostgreSQL table, partitioned by
  day (`dt`, partition projection: no crawler, no MSCK), columns generated from
  shared/retention/policy.py, i.e. from what the archiver writes (gzip JSON lines, OpenX SerDe).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.alarms import AT_LEAST, failed_executions, paging_alarm
from infra.config import EnvironmentConfig
from infra.data import ATHENA_RESULTS_PREFIX, archive_lifecycle_rule, private_bucket
from infra.metrics_catalogue import app_metric
from infra.nag import acknowledge, finding_text
from infra.rounds import RoundsLoop
from shared.retention.keyring import PURPOSE as SUBJECT_KEYS_PURPOSE
from shared.retention.policy import ARCHIVED, AUDIT_LOGS, TablePolicy

DEV_LOCK_DAYS = 1


def _export(environment: str, what: str) -> str:
    """The foundation stack exports the audit bucket under these names; the service stack imports
    them by name (a stable IAM resource text, which cdk-nag's acknowledgment names)."""
    return f"ticketguard-{environment}-audit-archive-{what}"


def audit_lock_days(config: EnvironmentConfig) -> int:
    return AUDIT_LOGS.archive_days if config.is_prod else DEV_LOCK_DAYS


class AuditArchive(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        key: kms.IKey,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = private_bucket(
            self,
            "Bucket",
            key=key,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(
                Duration.days(audit_lock_days(config))
            ),
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="audit-archive/",
            lifecycle_rules=[
                archive_lifecycle_rule(AUDIT_LOGS, noncurrent_days=1),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.DESTROY,
        )
        CfnOutput(self, "Name", value=self.bucket.bucket_name, export_name=_export(config.name, "name"))
        CfnOutput(self, "Arn", value=self.bucket.bucket_arn, export_name=_export(config.name, "arn"))


class RetentionCatalog(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        function: lambda_.Function | None,
        loop: RoundsLoop | None,
        archive_bucket_name: str,
        data_key: kms.IKey,
        master_key: kms.IKey,
        topics: dict[str, sns.ITopic],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.master_key = master_key
        # Imported by export name: the foundation stack deploys first (the service stack depends on it).
        self.audit_bucket = s3.Bucket.from_bucket_attributes(
            self,
            "AuditBucket",
            bucket_arn=Fn.import_value(_export(config.name, "arn")),
            bucket_name=Fn.import_value(_export(config.name, "name")),
        )
        buckets = {"archive": archive_bucket_name, "audit": self.audit_bucket.bucket_name}
        self.database_name = f"ticketguard_{config.name}_archive"
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="TicketGuard archive (spec 2.1): one table per archived PostgreSQL table, by day",
            ),
        )
        self.tables = {}
        for policy in ARCHIVED:
            table = _glue_table(self, policy, buckets[policy.data_type.bucket], self.database_name)
            table.add_dependency(database)
            self.tables[policy.table] = table
        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=f"ticketguard-{config.name}-archive",
            description="Queries over the TicketGuard archive (on-call, auditors)",
            state="ENABLED",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=100 * 1024**3,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{archive_bucket_name}/{ATHENA_RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=data_key.key_arn
                    ),
                ),
            ),
        )
        if function is not None:
            self._grant(function)
            self._alarms(config, function, topics, loop)

    def _grant(self, function: lambda_.Function) -> None:
        """What the factory's archive grants do not cover: the audit bucket (write and read back, no
        delete: Object Lock and the lifecycle end its objects) and the archive's master key: exactly
        GenerateDataKey (a new key-encryption key) and Decrypt (open one), only with the encryption context
        shared/retention/keyring.py gives them. It never invokes itself: a state machine runs its rounds
        (infra/rounds.py)."""
        role = function.role
        assert role is not None
        function.add_environment("TG_AUDIT_ARCHIVE_BUCKET", self.audit_bucket.bucket_name)
        function.add_environment("TG_ARCHIVE_KMS_KEY_ID", self.master_key.key_arn)
        audit_arn = self.audit_bucket.bucket_arn
        objects = self.audit_bucket.arn_for_objects(f"{AUDIT_LOGS.prefix}*")
        # A policy of its own, beside the role's default policy.
        policy = iam.Policy(
            self,
            "RetentionExtras",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="AuditArchiveObjects", actions=["s3:GetObject", "s3:PutObject"], resources=[objects]
                ),
                iam.PolicyStatement(
                    sid="AuditArchiveListing",
                    actions=["s3:ListBucket"],
                    resources=[audit_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{AUDIT_LOGS.prefix}*"]}},
                ),
                iam.PolicyStatement(
                    sid="ArchiveSubjectKeys",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[self.master_key.key_arn],
                    conditions={"StringEquals": {"kms:EncryptionContext:purpose": SUBJECT_KEYS_PURPOSE}},
                ),
            ],
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{finding_text(policy, objects)}]",
            f"Object-level access is limited to the {AUDIT_LOGS.prefix} prefix of the audit archive bucket.",
        )

    def _alarms(
        self,
        config: EnvironmentConfig,
        function: lambda_.Function,
        topics: dict[str, sns.ITopic],
        loop: RoundsLoop | None,
    ) -> None:
        high = topics["high"]
        paging_alarm(
            self,
            "Failed",
            environment=config.name,
            name="retention-failed",
            description="The retention function failed (a batch stays pending; the next run resumes it). "
            "Logs: the retention function's log group; state: retention.batches.",
            metric=function.metric_errors(period=Duration.hours(1), statistic="Sum"),
            threshold=1,
            topic=high,
            comparison=AT_LEAST,
        )
        paging_alarm(
            self,
            "Incomplete",
            environment=config.name,
            name="retention-incomplete",
            description="Retention stopped with rows still past their hot age (its rounds exhausted): "
            "raise TG_RETENTION_MAX_ROUNDS or run `ticketguard retention` by hand.",
            metric=app_metric("RetentionIncomplete", "Sum", Duration.hours(1), on="retention-incomplete"),
            threshold=1,
            topic=high,
            comparison=AT_LEAST,
        )
        if loop is not None:
            self._loop_alarm(config, loop, high)

    def _loop_alarm(self, config: EnvironmentConfig, loop: RoundsLoop, topic: sns.ITopic) -> None:
        """A run of rounds that failed, timed out or was aborted (the function's own errors page above)."""
        paging_alarm(
            self,
            "LoopFailed",
            environment=config.name,
            name="retention-run-failed",
            description="A retention run (the state machine of its rounds) failed, timed out or was "
            "aborted: see the execution's failed round (Step Functions console); the next run resumes.",
            metric=failed_executions(
                loop.state_machine.state_machine_arn, Duration.hours(1), "failed retention runs"
            ),
            threshold=1,
            topic=topic,
            comparison=AT_LEAST,
        )


def _glue_table(scope: Construct, policy: TablePolicy, bucket: str, database_name: str) -> glue.CfnTable:
    location = f"s3://{bucket}/{policy.location}"
    return glue.CfnTable(
        scope,
        "".join(part.capitalize() for part in policy.glue_name.split("_")),
        catalog_id=Stack.of(scope).account,
        database_name=database_name,
        table_input=glue.CfnTable.TableInputProperty(
            name=policy.glue_name,
            description=f"{policy.table} past {policy.data_type.hot_days} days ({policy.data_type.name}); "
            f"personal columns {', '.join(policy.personal) or 'none'} encrypted per subject",
            table_type="EXTERNAL_TABLE",
            parameters={
                "classification": "json",
                "compressionType": "gzip",
                "projection.enabled": "true",
                "projection.dt.type": "date",
                "projection.dt.format": "yyyy-MM-dd",
                "projection.dt.range": "2020-01-01,NOW",
                "projection.dt.interval": "1",
                "projection.dt.interval.unit": "DAYS",
                "storage.location.template": f"{location}dt=${{dt}}/",
            },
            partition_keys=[glue.CfnTable.ColumnProperty(name="dt", type="string")],
            storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                location=location,
                columns=[
                    glue.CfnTable.ColumnProperty(name=name, type=kind) for name, kind in policy.hive_columns()
                ],
                input_format="org.apache.hadoop.mapred.TextInputFormat",
                output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                compressed=True,
                serde_info=glue.CfnTable.SerdeInfoProperty(
                    serialization_library="org.openx.data.jsonserde.JsonSerDe",
                    parameters={"ignore.malformed.json": "false", "case.insensitive": "false"},
                ),
            ),
        ),
    )

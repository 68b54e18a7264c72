"""The migrations custom resource: on every deploy that changes the schema, the project's migration
runner (`shared.db.migrations.apply_migrations`, the same one the tests and `make run` use) runs
inside the VPC against the database, before the functions that need the new schema are updated.

CloudFormation calls a custom resource only when its properties change, so the resource carries
the SHA-256 of every migration file: a new or changed file re-runs the runner (which itself skips
what is applied already). A deploy with no schema change has nothing to apply.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import CustomResource
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.log_groups import encrypted_log_group
from infra.nag import acknowledge
from shared.db.migrations import MIGRATIONS_DIR


def migrations_fingerprint(directory: Path = MIGRATIONS_DIR) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.sql")):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class SchemaMigrations(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, handler: lambda_.IFunction, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        provider_logs = encrypted_log_group(self, "ProviderLogs", key=key)
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=handler,
            log_group=provider_logs,
        )
        self.resource = CustomResource(
            self,
            "Schema",
            service_token=self.provider.service_token,
            resource_type="Custom::TicketGuardMigrations",
            properties={"Fingerprint": migrations_fingerprint()},
        )
        framework = self.provider.node.find_child("framework-onEvent")
        acknowledge(
            framework,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "The custom-resource framework function of aws-cdk-lib (cr.Provider) creates its own role with this policy.",
        )
        acknowledge(
            framework,
            "AwsSolutions-IAM5[Resource::<FunctionsMigrationsB18FC5E3.Arn>:*]",
            "cr.Provider lets its framework invoke every version of the migrations handler.",
        )

"""Least-privilege access to the model registry and the retraining runs in the archive bucket.

    models/CURRENT                     the served version's name: read by every model reader, written by
                                       the publish step only (the build is denied it)
    models/ROLLOUT.json                the candidate in shadow or canary and the rollout's history
                                       (shared/model/rollout.py): read by every model reader, written by
                                       the publish step (a new version starts in shadow) and the model-ops
                                       job (the watchdog's rollback); the build is denied it
    (both)                             read and written by the admin function: an admin's rollback
                                       (POST /api/v1/admin/models/rollback, shared/model/rollout.py)
    models/<version>/manifest.json     read by the model readers; written (with the rest of the version)
    models/<version>/libtgmodel-<arch>.so   by the build
    retrain-runs/<run>/training-set.csv.gz  written by the export step, read by the build
    retrain-runs/<run>/outcome.json         written by the build, read by the publish step

Every object is encrypted with the data key (the bucket's default), used through S3 only. A GET of a
missing CURRENT must answer 404 (serve the shipped model), not 403: readers may list that one key.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.functions import CATALOG
from infra.keys import via_services
from infra.nag import acknowledge, finding_text
from shared.config import env_name
from shared.model.layout import OUTCOME_NAME, POINTER, ROLLOUT, RUNS_PREFIX, TRAINING_SET_NAME, library_name
from shared.model.manifest import MANIFEST_NAME

MODELS_PREFIX = "models/"
POINTER_KEY = f"{MODELS_PREFIX}{POINTER}"
ROLLOUT_KEY = f"{MODELS_PREFIX}{ROLLOUT}"
TRAINING_SET = f"{RUNS_PREFIX}*/{TRAINING_SET_NAME}"
OUTCOME = f"{RUNS_PREFIX}*/{OUTCOME_NAME}"
CANDIDATE_FILES = f"{MODELS_PREFIX}v*/*"  # a version folder is v<date>.<time> (training/registry.py)
# Lambda architecture -> the ML room's name for it (training/compile.py names the library after it).
MODEL_ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}


class ArchiveAccess:
    """The statements each role of the pipeline and of the model readers gets, with the cdk-nag
    acknowledgment of each object pattern it names."""

    def __init__(self, scope: Construct, *, bucket_name: str, data_key: kms.IKey, architecture: str) -> None:
        stack = Stack.of(scope)
        self.bucket_arn = f"arn:{stack.partition}:s3:::{bucket_name}"
        self.registry_uri = f"s3://{bucket_name}/{MODELS_PREFIX}"
        self.data_key = data_key
        self.s3_via = via_services(scope, "s3")
        self.version_files = [
            f"{MODELS_PREFIX}*/{MANIFEST_NAME}",
            f"{MODELS_PREFIX}*/{library_name(MODEL_ARCHITECTURES[architecture])}",
        ]

    def objects(self, *patterns: str) -> list[str]:
        return [f"{self.bucket_arn}/{pattern}" for pattern in patterns]

    def statement(self, sid: str, action: str, *patterns: str) -> iam.PolicyStatement:
        return iam.PolicyStatement(sid=sid, actions=[action], resources=self.objects(*patterns))

    def pointer_listing(self, sid: str) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid=sid,
            actions=["s3:ListBucket"],
            resources=[self.bucket_arn],
            conditions={"StringEquals": {"s3:prefix": POINTER_KEY}},
        )

    def key_via_s3(self, sid: str, *actions: str) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid=sid, actions=list(actions), resources=[self.data_key.key_arn], conditions=self.s3_via
        )

    def acknowledge_objects(self, role: iam.IRole | None, patterns: list[str], reason: str) -> None:
        assert role is not None
        for pattern in patterns:
            resource = finding_text(role, f"{self.bucket_arn}/{pattern}")
            acknowledge(role, f"AwsSolutions-IAM5[Resource::{resource}]", reason)

    def model_readers(self, functions: Mapping[str, lambda_.Function]) -> list[str]:
        """score, health, features (the CATALOG's model functions): TG_MODEL_REGISTRY and read-only
        access to CURRENT, the manifests and their architecture's library; they write nothing."""
        readers = []
        for spec in CATALOG:
            function = functions.get(spec.name)
            if not spec.model or function is None:
                continue
            function.add_environment("TG_MODEL_REGISTRY", self.registry_uri)
            function.add_to_role_policy(
                self.statement(
                    "ModelRegistryRead", "s3:GetObject", POINTER_KEY, ROLLOUT_KEY, *self.version_files
                )
            )
            function.add_to_role_policy(self.pointer_listing("ModelRegistryPointer"))
            function.add_to_role_policy(self.key_via_s3("ModelRegistryKey", "kms:Decrypt"))
            self.acknowledge_objects(
                function.role,
                self.version_files,
                "Read-only: a model version's manifest and this architecture's library, under models/ of "
                "the archive bucket; the version folder is known at run time only (models/CURRENT).",
            )
            readers.append(spec.name)
        return readers

    def export_step(self, export: lambda_.Function, bucket_name: str) -> None:
        export.add_environment("TG_ARCHIVE_BUCKET", bucket_name)
        export.add_to_role_policy(self.statement("TrainingSetWrite", "s3:PutObject", TRAINING_SET))
        export.add_to_role_policy(self.key_via_s3("TrainingSetKey", "kms:GenerateDataKey"))
        self.acknowledge_objects(
            export.role,
            [TRAINING_SET],
            "Write-only: each run's training set, in its folder of retrain-runs/.",
        )

    def publish_step(self, publish: lambda_.Function) -> None:
        publish.add_environment("TG_MODEL_REGISTRY", self.registry_uri)
        reads = [*self.version_files, OUTCOME]
        publish.add_to_role_policy(
            self.statement("RegistryRead", "s3:GetObject", POINTER_KEY, ROLLOUT_KEY, *reads)
        )
        publish.add_to_role_policy(self.statement("PointerWrite", "s3:PutObject", POINTER_KEY, ROLLOUT_KEY))
        publish.add_to_role_policy(self.pointer_listing("PointerListing"))
        publish.add_to_role_policy(self.key_via_s3("RegistryKey", "kms:Decrypt", "kms:GenerateDataKey"))
        self.acknowledge_objects(
            publish.role,
            reads,
            "Read-only: the run's outcome, the candidate's manifest and library; the only objects it writes "
            "are models/CURRENT and models/ROLLOUT.json.",
        )

    def rollout_writer(self, function: lambda_.Function) -> None:
        """The model-ops job (a model reader already) rolls a candidate back: it rewrites ROLLOUT.json."""
        function.add_to_role_policy(self.statement("RolloutWrite", "s3:PutObject", ROLLOUT_KEY))
        function.add_to_role_policy(self.key_via_s3("RolloutKey", "kms:GenerateDataKey"))

    def registry_operator(self, function: lambda_.Function) -> None:
        """The admin function (GET /api/v1/admin/models, POST .../models/rollback) runs the model-operations
        path (shared/model/rollout.py's S3Store): it reads CURRENT and ROLLOUT.json (and may list CURRENT,
        so that a missing one answers 404), checks that a version exists (a HEAD of its manifest), and
        writes CURRENT and ROLLOUT.json. It loads no model: no library is readable."""
        manifests = f"{MODELS_PREFIX}*/{MANIFEST_NAME}"
        function.add_environment(env_name("model_registry"), self.registry_uri)
        function.add_to_role_policy(
            self.statement("ModelRegistryRead", "s3:GetObject", POINTER_KEY, ROLLOUT_KEY, manifests)
        )
        function.add_to_role_policy(self.statement("ModelRollback", "s3:PutObject", POINTER_KEY, ROLLOUT_KEY))
        function.add_to_role_policy(self.pointer_listing("ModelRegistryPointer"))
        function.add_to_role_policy(self.key_via_s3("ModelRegistryKey", "kms:Decrypt", "kms:GenerateDataKey"))
        self.acknowledge_objects(
            function.role,
            [manifests],
            "Read-only: a model version's manifest under models/ of the archive bucket (a rollback checks "
            "that the version it serves exists); the version is named by the admin at run time.",
        )

    def build(self, role: iam.IRole | None) -> None:
        """The build reads the served version and the run's training set, writes the candidate's files
        and the run's outcome, and may never write or delete CURRENT."""
        assert role is not None
        reads = [*self.version_files, TRAINING_SET]
        writes = [CANDIDATE_FILES, OUTCOME]
        role.add_to_principal_policy(
            self.statement("RegistryAndRunRead", "s3:GetObject", POINTER_KEY, *reads)
        )
        role.add_to_principal_policy(self.statement("CandidateAndOutcomeWrite", "s3:PutObject", *writes))
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="NeverThePointer",
                effect=iam.Effect.DENY,
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=self.objects(POINTER_KEY, ROLLOUT_KEY),
            )
        )
        role.add_to_principal_policy(self.pointer_listing("PointerListing"))
        role.add_to_principal_policy(self.key_via_s3("ArchiveKey", "kms:Decrypt", "kms:GenerateDataKey"))
        self.acknowledge_objects(
            role,
            [*reads, *writes],
            "The build reads the served version's manifest and library and the run's training set, and "
            "writes the candidate's files under models/v<version>/ and the run's outcome; CURRENT is denied.",
        )

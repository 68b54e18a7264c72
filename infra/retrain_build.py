"""The retraining build (infra/retrain.py's step 2): a CodeBuild project that runs `ticketguard train`
on an AWS-managed Amazon Linux 2023 image of the functions' architecture, with this project as an S3
asset for its source (a zip, no Docker) and only the pinned requirements installed.
"""

from __future__ import annotations

from aws_cdk import Duration, IgnoreMode, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from infra.assets import PROJECT_ROOT
from infra.config import EnvironmentConfig
from infra.log_groups import encrypted_log_group
from infra.model_access import MODEL_ARCHITECTURES
from infra.nag import acknowledge, finding_text

BUILD_IMAGES = {
    "arm64": codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0,
    "x86_64": codebuild.LinuxBuildImage.AMAZON_LINUX_2023_5,
}
# The project directory as the build's source (gitignore semantics): only what `ticketguard train` needs.
SOURCE_EXCLUDES = [
    "*",
    "!pyproject.toml",
    "!requirements/",
    "!requirements/retrain-*.txt",
    "!shared/",
    "!shared/**",
    "!training/",
    "!training/**",
    "!tooling/",
    "!tooling/**",
    "!model_artifacts/",
    "!model_artifacts/**",
    "**/__pycache__",
    "**/*.pyc",
]


def buildspec(lock: str) -> dict[str, object]:
    """Install the pinned requirements, then the project's own entry point: nothing else runs. The
    project is installed editable, so that shared/ finds the shipped model (model_artifacts/) beside it:
    the gate's baseline while the registry has no CURRENT."""
    venv = "/tmp/venv"  # noqa: S108  (the build container's scratch space)
    return {
        "version": "0.2",
        "env": {"shell": "bash"},
        "phases": {
            "install": {
                "runtime-versions": {"python": "3.12"},
                "commands": [
                    f"python -m venv {venv}",
                    f"{venv}/bin/pip install --quiet --disable-pip-version-check --no-deps -r {lock}",
                    f"{venv}/bin/pip install --quiet --disable-pip-version-check --no-deps --editable .",
                ],
            },
            "build": {
                "commands": [
                    f'{venv}/bin/ticketguard train --training-set "$TG_TRAINING_SET" '
                    '--registry "$TG_MODEL_REGISTRY" --outcome "$TG_OUTCOME" '
                    '--source "$TG_TRAINING_SOURCE" --arch "$TG_MODEL_ARCHITECTURE"'
                ]
            },
        },
    }


def training_project(
    scope: Construct, *, config: EnvironmentConfig, registry_uri: str, key: kms.IKey
) -> codebuild.Project:
    """The retraining build: the project directory as an S3 asset, an encrypted log group, the project
    scoped to its source and key (the caller grants the registry and acknowledges the default policy)."""
    source = s3_assets.Asset(
        scope, "Source", path=str(PROJECT_ROOT), exclude=SOURCE_EXCLUDES, ignore_mode=IgnoreMode.GIT
    )
    log_group = encrypted_log_group(scope, "BuildLogs", key=key)
    project = _project(scope, config, registry_uri, log_group)
    _scope_project(project, source, key)
    return project


def _project(
    scope: Construct, config: EnvironmentConfig, registry_uri: str, log_group: logs.ILogGroup
) -> codebuild.Project:
    """The CodeBuild project that runs `ticketguard train` for the configured architecture."""
    return codebuild.Project(
        scope,
        "Build",
        project_name=f"ticketguard-{config.name}-retrain",
        description="Retraining: train, evaluate, gate and compile with the project's `ticketguard train`",
        build_spec=codebuild.BuildSpec.from_object(
            buildspec(f"requirements/retrain-{config.architecture}.txt")
        ),
        environment=codebuild.BuildEnvironment(
            build_image=BUILD_IMAGES[config.architecture],
            compute_type=codebuild.ComputeType.LARGE,
            privileged=False,
            environment_variables={
                "TG_MODEL_ARCHITECTURE": codebuild.BuildEnvironmentVariable(
                    value=MODEL_ARCHITECTURES[config.architecture]
                ),
                "TG_MODEL_REGISTRY": codebuild.BuildEnvironmentVariable(value=registry_uri),
            },
        ),
        timeout=Duration.minutes(90),
        queued_timeout=Duration.hours(1),
        logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
    )


def _scope_project(project: codebuild.Project, source: s3_assets.Asset, key: kms.IKey) -> None:
    """The source is the asset zip, read with the statements below (Source.s3 would grant
    s3:GetObject*/s3:List* on the whole bootstrap bucket); the project's key without the
    ReEncrypt*/GenerateDataKey* that `encryption_key` adds."""
    cfn = project.node.default_child
    assert isinstance(cfn, codebuild.CfnProject)
    cfn.add_property_override("Source.Type", "S3")
    cfn.add_property_override("Source.Location", f"{source.s3_bucket_name}/{source.s3_object_key}")
    cfn.add_property_override("EncryptionKey", key.key_arn)
    acknowledge(
        project,
        "AwsSolutions-CB4",
        "The project is encrypted with the service key: EncryptionKey is set by a property override "
        "(cdk-nag reads the L2 prop) so that the role gets Decrypt/Encrypt/GenerateDataKey on it, "
        "not the ReEncrypt*/GenerateDataKey* the L2 grants.",
    )
    project.add_to_role_policy(
        iam.PolicyStatement(
            sid="ProjectKey",
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            resources=[key.key_arn],
        )
    )
    bootstrap_bucket = f"arn:{Stack.of(project).partition}:s3:::{source.s3_bucket_name}"
    project.add_to_role_policy(
        iam.PolicyStatement(
            sid="SourceAsset",
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[f"{bootstrap_bucket}/{source.s3_object_key}"],
        )
    )
    project.add_to_role_policy(
        iam.PolicyStatement(
            sid="SourceBucket",
            actions=["s3:GetBucketAcl", "s3:GetBucketLocation"],
            resources=[bootstrap_bucket],
        )
    )


def acknowledge_default_policy(project: codebuild.Project) -> None:
    """The two resources CDK's default CodeBuild policy names by the project's name."""
    stack = Stack.of(project)
    account = f"{stack.region}:{stack.account}"
    for resource, why in (
        (
            f"arn:{stack.partition}:logs:{account}:log-group:/aws/codebuild/{project.project_name}:*",
            "CDK's default CodeBuild policy names this project's own default log group (the build logs "
            "go to the encrypted group configured on the project).",
        ),
        (
            f"arn:{stack.partition}:codebuild:{account}:report-group/{project.project_name}-*",
            "CDK's default CodeBuild policy: test-report groups named after this project only (the "
            "build publishes no reports).",
        ),
    ):
        assert project.role is not None
        acknowledge(project.role, f"AwsSolutions-IAM5[Resource::{finding_text(project, resource)}]", why)

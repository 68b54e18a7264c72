"""Data stores and network: encryption, isolation, retention, backups."""

from __future__ import annotations

import json

import pytest

from infra.data import ARCHIVE_BUCKET_TYPES, POSTGRES_VERSION

pytestmark = pytest.mark.xdist_group("infra")


def _one(synth, resource_type):
    [resource] = synth.resources(resource_type).values()
    return resource


def test_given_dev_then_postgres_is_encrypted_private_backed_up_and_forces_tls(dev_synth):
    db = _one(dev_synth, "AWS::RDS::DBInstance")["Properties"]
    assert db["Engine"] == "postgres" and db["EngineVersion"] == POSTGRES_VERSION.postgres_full_version
    assert db["StorageEncrypted"] is True and "KmsKeyId" in db
    assert db["PubliclyAccessible"] is False
    assert db["BackupRetentionPeriod"] >= 1
    assert db["EnableIAMDatabaseAuthentication"] is True
    assert db["EnableCloudwatchLogsExports"] == ["postgresql"]
    assert db["MultiAZ"] is False and db["DeletionProtection"] is False
    params = _one(dev_synth, "AWS::RDS::DBParameterGroup")["Properties"]["Parameters"]
    assert params["rds.force_ssl"] == "1"


def test_given_prod_then_postgres_is_multi_az_protected_and_snapshotted_on_delete(prod_synth):
    db = _one(prod_synth, "AWS::RDS::DBInstance")
    assert db["Properties"]["MultiAZ"] is True and db["Properties"]["DeletionProtection"] is True
    assert db["DeletionPolicy"] == "Snapshot"


def test_given_the_database_then_functions_reach_it_only_through_a_tls_proxy_with_rotated_credentials(
    dev_synth,
):
    proxy = _one(dev_synth, "AWS::RDS::DBProxy")["Properties"]
    assert proxy["RequireTLS"] is True and proxy["EngineFamily"] == "POSTGRESQL"
    rotation = _one(dev_synth, "AWS::SecretsManager::RotationSchedule")["Properties"]
    assert rotation["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    ingress = [
        r["Properties"]
        for r in dev_synth.resources("AWS::EC2::SecurityGroupIngress", stack="Foundation").values()
        if r["Properties"].get("FromPort") == 5432
    ]
    assert ingress and all("SourceSecurityGroupId" in rule for rule in ingress)


def test_given_redis_then_it_is_7_with_tls_auth_and_encryption_at_rest(dev_synth):
    redis = _one(dev_synth, "AWS::ElastiCache::ReplicationGroup")["Properties"]
    assert redis["Engine"] == "redis" and redis["EngineVersion"].startswith("7")
    assert redis["TransitEncryptionEnabled"] is True and redis["AtRestEncryptionEnabled"] is True
    assert "KmsKeyId" in redis
    assert "resolve:secretsmanager" in json.dumps(redis["AuthToken"])  # a dynamic reference, never a literal


def test_given_prod_then_redis_is_multi_az_with_failover(prod_synth):
    redis = _one(prod_synth, "AWS::ElastiCache::ReplicationGroup")["Properties"]
    assert redis["MultiAZEnabled"] is True and redis["AutomaticFailoverEnabled"] is True
    assert redis["NumCacheClusters"] >= 2


def _archive(synth):
    buckets = synth.resources("AWS::S3::Bucket")
    [archive] = [
        b
        for b in buckets.values()
        if "LifecycleConfiguration" in b["Properties"]
        and "LoggingConfiguration" in b["Properties"]
        and "ObjectLockConfiguration" not in b["Properties"]  # the audit archive (infra/retention.py)
    ]
    return archive["Properties"]


def test_given_the_archive_bucket_then_it_is_kms_encrypted_versioned_private_and_logged(dev_synth):
    bucket = _archive(dev_synth)
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


def test_given_every_bucket_then_its_policy_denies_plain_http(dev_synth):
    policies = dev_synth.resources("AWS::S3::BucketPolicy")
    assert len(policies) == len(dev_synth.resources("AWS::S3::Bucket"))
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny"
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in statements
        )


def test_given_the_retention_table_then_each_archived_type_expires_when_its_total_retention_ends(dev_synth):
    rules = {
        rule["Prefix"]: rule
        for rule in _archive(dev_synth)["LifecycleConfiguration"]["Rules"]
        if "Prefix" in rule
    }
    expected = {
        "transaction-logs/": 2 * 365 - 90,
        "ml-predictions/": 5 * 365 - 180,
    }  # audit-logs/: the Object Lock bucket's rule (tests/infra/test_retention.py)
    assert {prefix: rules[prefix]["ExpirationInDays"] for prefix in expected} == expected
    assert "audit-logs/" not in rules  # a prefix nothing writes in this bucket
    assert {t.prefix: t.archive_days for t in ARCHIVE_BUCKET_TYPES} == expected
    for prefix in expected:
        assert rules[prefix]["Status"] == "Enabled"
        assert rules[prefix]["Transitions"][0]["StorageClass"] == "GLACIER_IR"


def test_given_the_network_then_data_lives_in_isolated_subnets_and_aws_apis_go_through_endpoints(dev_synth):
    endpoints = dev_synth.resources("AWS::EC2::VPCEndpoint")
    services = {
        json.dumps(e["Properties"]["ServiceName"]).split(".")[-1].rstrip('"]}') for e in endpoints.values()
    }
    assert {"s3", "secretsmanager", "ssm", "logs", "monitoring"} <= services
    assert len(dev_synth.resources("AWS::EC2::NatGateway")) == 1  # for the ETL's chain RPC only
    [flow_log] = dev_synth.resources("AWS::EC2::FlowLog").values()
    assert flow_log["Properties"]["LogDestinationType"] == "cloud-watch-logs"


def test_given_every_log_group_then_it_keeps_30_days_and_is_kms_encrypted(dev_synth):
    groups = dev_synth.resources("AWS::Logs::LogGroup")
    assert len(groups) >= 8
    # Cognito delivers only to a group without a KMS key (tests/infra/test_deploy_blockers.py)
    cognito = {
        lid
        for lid, g in groups.items()
        if g["Properties"].get("LogGroupName", "").startswith("/aws/vendedlogs/cognito/")
    }
    assert len(cognito) == 1
    for logical_id, group in groups.items():
        assert group["Properties"].get("RetentionInDays") == 30, logical_id
        assert ("KmsKeyId" in group["Properties"]) is (logical_id not in cognito), logical_id


def test_given_every_kms_key_then_rotation_is_on(dev_synth):
    keys = dev_synth.resources("AWS::KMS::Key")
    assert keys and all(key["Properties"]["EnableKeyRotation"] is True for key in keys.values())


def test_given_the_proxy_then_it_may_reach_postgres_and_the_secrets_manager_endpoint_only(dev_synth):
    groups = dev_synth.resources("AWS::EC2::SecurityGroup", stack="Foundation")
    [proxy_sg] = [
        lid for lid, g in groups.items() if g["Properties"]["GroupDescription"].startswith("RDS Proxy")
    ]
    egress = [
        e["Properties"]
        for e in dev_synth.resources("AWS::EC2::SecurityGroupEgress", stack="Foundation").values()
        if e["Properties"]["GroupId"] == {"Fn::GetAtt": [proxy_sg, "GroupId"]}
    ]
    assert all("DestinationSecurityGroupId" in rule for rule in egress)
    targets = {json.dumps(rule["DestinationSecurityGroupId"]): rule["FromPort"] for rule in egress}
    assert len(egress) == 2
    assert 443 in targets.values()
    assert any(
        "DatabaseDbSg" in target and "Endpoint.Port" in json.dumps(port) for target, port in targets.items()
    )

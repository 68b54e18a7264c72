"""Issue 16 in the templates: the retention function on its schedule, least-privilege IAM, the audit
archive under Object Lock (compliance), the Glue tables (what the archiver writes) and Athena
workgroup, the alarms on failure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.retention.keyring import PURPOSE
from shared.retention.policy import ARCHIVED, AUDIT_LOGS

pytestmark = pytest.mark.xdist_group("infra")


def _retention_function(synth: Any) -> tuple[str, dict[str, Any]]:
    [(logical_id, function)] = [
        (k, v)
        for k, v in synth.resources("AWS::Lambda::Function", "Service").items()
        if v["Properties"].get("Description", "").startswith("Weekly retention")
    ]
    return logical_id, function


def _statements_of_role(synth: Any, role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in synth.resources("AWS::IAM::Policy", "Service").values():
        if role_id in json.dumps(policy["Properties"]["Roles"]):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _definition(machine: dict[str, Any]) -> dict[str, Any]:
    """A state machine's definition, each reference inside it (an ARN, a partition) as `<ref>`."""
    body = machine["Properties"]["DefinitionString"]
    if isinstance(body, dict):
        separator, parts = body["Fn::Join"]
        body = separator.join(part if isinstance(part, str) else "<ref>" for part in parts)
    return json.loads(body)


def _retention_loop(synth: Any) -> tuple[str, dict[str, Any]]:
    [(logical_id, machine)] = [
        (k, m)
        for k, m in synth.resources("AWS::StepFunctions::StateMachine", "Service").items()
        if m["Properties"]["StateMachineName"] == f"ticketguard-{synth.config.name}-retention"
    ]
    return logical_id, machine


def test_given_the_dev_app_then_the_retention_loop_starts_weekly_sunday_0300_utc(dev_synth):
    logical_id, function = _retention_function(dev_synth)
    [rule] = [
        r["Properties"]
        for r in dev_synth.resources("AWS::Events::Rule", "Service").values()
        if r["Properties"]["Name"] == "ticketguard-dev-retention"
    ]
    assert rule["ScheduleExpression"] == "cron(0 3 ? * SUN *)"
    # the rule starts the loop of rounds with its firing time; the loop invokes the function
    [target] = rule["Targets"]
    machine_id, machine = _retention_loop(dev_synth)
    assert target["Arn"] == {"Ref": machine_id}
    assert target["InputTransformer"]["InputPathsMap"] == {"time": "$.time"}
    assert json.loads(target["InputTransformer"]["InputTemplate"].replace("<time>", '"T"')) == {
        "scheduled_at": "T"
    }
    assert logical_id in json.dumps(machine["Properties"]["DefinitionString"])
    assert function["Properties"]["Timeout"] == 900
    env = function["Properties"]["Environment"]["Variables"]
    assert {"TG_ARCHIVE_BUCKET", "TG_AUDIT_ARCHIVE_BUCKET", "TG_DB_DIRECT_HOST"} <= set(env)


def test_given_the_retention_loop_then_it_invokes_the_function_again_with_its_next_while_it_continues(
    dev_synth,
):
    # Given the state machine of retention's rounds (issue 22: no self-invocation)
    states = _definition(_retention_loop(dev_synth)[1])["States"]
    run = states["Run"]
    # the function (its ARN as the resource) gets the state itself as its event, its answer at $.run
    assert run["Type"] == "Task" and run["Resource"] == "<ref>" and run["ResultPath"] == "$.run"
    assert "Parameters" not in run and "InputPath" not in run
    # Then while the function answers `continue`, the next round's input is its `next`, and Run again...
    choice = states[run["Next"]]
    [again] = [c for c in choice["Choices"] if c["Variable"] == "$.run.continue"]
    assert again["BooleanEquals"] is True
    next_round = states[again["Next"]]
    assert next_round["Type"] == "Pass" and next_round["Next"] == "Run"
    assert next_round["Parameters"] == {"as_of.$": "$.run.next.as_of", "round.$": "$.run.next.round"}
    # ...a complete run succeeds, and one that stops with work left fails (its alarm pages)
    [done] = [c for c in choice["Choices"] if c["Variable"] == "$.run.complete"]
    assert states[done["Next"]]["Type"] == "Succeed"
    assert states[choice["Default"]]["Type"] == "Fail"


def test_given_the_retention_role_then_it_may_write_and_read_its_prefixes_only_and_delete_nothing_locked(
    dev_synth,
):
    _, function = _retention_function(dev_synth)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = _statements_of_role(dev_synth, role_id)
    s3_objects = [
        s for s in statements if any(a.startswith("s3:") and "Object" in a for a in _list(s["Action"]))
    ]
    prefixes = ("/transaction-logs/*", "/ml-predictions/*", f"/{AUDIT_LOGS.prefix}*")
    resources = [json.dumps(r) for s in s3_objects for r in _list(s["Resource"])]
    assert resources and all(any(p in r for p in prefixes) for r in resources), resources
    audit = [s for s in s3_objects if "audit-archive-arn" in json.dumps(s["Resource"])]
    assert audit and all(set(_list(s["Action"])) == {"s3:GetObject", "s3:PutObject"} for s in audit)
    assert all(AUDIT_LOGS.prefix in json.dumps(s["Resource"]) for s in audit)
    # It never invokes a function (its rounds are the state machine's), so it needs no NAT: it runs in
    # the isolated subnets, as the other jobs without the Internet do
    assert not [st for st in statements if "lambda:InvokeFunction" in _list(st["Action"])]
    [refresh] = [
        f
        for f in dev_synth.resources("AWS::Lambda::Function", "Service").values()
        if f["Properties"].get("Description", "").startswith("Refresh the KPI")
    ]
    subnets = function["Properties"]["VpcConfig"]["SubnetIds"]
    assert subnets == refresh["Properties"]["VpcConfig"]["SubnetIds"]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    ("synth_fixture", "days"), [("dev_synth", 1), ("prod_synth", AUDIT_LOGS.archive_days)]
)
def test_given_the_audit_archive_then_objects_are_locked_in_compliance_mode_and_expire_after(
    synth_fixture, days, request
):
    synth = request.getfixturevalue(synth_fixture)
    [bucket] = [
        b["Properties"]
        for b in synth.resources("AWS::S3::Bucket", "Foundation").values()
        if "ObjectLockConfiguration" in b["Properties"]
    ]
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {
        "Mode": "COMPLIANCE",
        "Days": days,
    }
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert (
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "SSEAlgorithm"
        ]
        == "aws:kms"
    )
    assert "LoggingConfiguration" in bucket
    [rule] = [r for r in bucket["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == AUDIT_LOGS.prefix]
    assert rule["ExpirationInDays"] == AUDIT_LOGS.archive_days  # 7 years in all, 1 of them hot


def test_given_the_archive_then_each_archived_table_has_a_glue_table_matching_what_the_archiver_writes(
    dev_synth,
):
    tables = {
        t["Properties"]["TableInput"]["Name"]: t["Properties"]
        for t in dev_synth.resources("AWS::Glue::Table", "Service").values()
    }
    assert set(tables) == {p.glue_name for p in ARCHIVED}
    for policy in ARCHIVED:
        table = tables[policy.glue_name]["TableInput"]
        descriptor = table["StorageDescriptor"]
        assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == list(policy.hive_columns())
        assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
        assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
        location = json.dumps(descriptor["Location"])
        bucket = "audit-archive-name" if policy.data_type.bucket == "audit" else "-archive-"
        assert bucket in location and f"/{policy.location}" in location
        assert table["Parameters"]["projection.enabled"] == "true"
        assert "dt=${dt}/" in json.dumps(table["Parameters"]["storage.location.template"])
    [workgroup] = dev_synth.resources("AWS::Athena::WorkGroup", "Service").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"


def test_given_the_retention_function_then_a_failure_and_an_unfinished_run_alarm(dev_synth):
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in dev_synth.resources("AWS::CloudWatch::Alarm").values()
    }
    failed = alarms["ticketguard-dev-retention-failed"]
    assert failed["MetricName"] == "Errors" and failed["Namespace"] == "AWS/Lambda"
    incomplete = alarms["ticketguard-dev-retention-incomplete"]
    assert incomplete["MetricName"] == "RetentionIncomplete"
    run_failed = alarms["ticketguard-dev-retention-run-failed"]
    metrics = {m.get("MetricStat", {}).get("Metric", {}).get("MetricName") for m in run_failed["Metrics"]}
    assert metrics >= {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    assert all(alarm["AlarmActions"] for alarm in (failed, incomplete, run_failed))


def test_given_the_retention_function_then_it_may_not_delete_archive_objects(dev_synth):
    # Given the retention function's policies: it writes and reads back archive objects, and never
    # deletes one (the lifecycle rules end an archive's life; Object Lock guards the audit bucket)
    import json

    policies = dev_synth.resources("AWS::IAM::Policy", stack="Service")
    retention = [p for lid, p in policies.items() if lid.startswith("FunctionsRetentionRole")]
    assert retention
    actions = json.dumps(
        [s["Action"] for p in retention for s in p["Properties"]["PolicyDocument"]["Statement"]]
    )
    assert "s3:PutObject" in actions and "s3:DeleteObject" not in actions


def _archive_master_key(synth: Any) -> tuple[str, dict[str, Any]]:
    [(logical_id, key)] = [
        (k, v)
        for k, v in synth.resources("AWS::KMS::Key", "Foundation").items()
        if "per-subject keys" in v["Properties"].get("Description", "")
    ]
    return logical_id, key


@pytest.mark.parametrize(("synth_fixture", "policy"), [("dev_synth", "Delete"), ("prod_synth", "Retain")])
def test_given_the_archive_then_its_subject_keys_have_a_kms_master_key_of_their_own(
    synth_fixture, policy, request
):
    # Issue 21 item 5: the subject keys are wrapped under a KMS key (envelope encryption)
    synth = request.getfixturevalue(synth_fixture)
    logical_id, key = _archive_master_key(synth)
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == policy  # losing it loses every archived personal field
    # Its key policy grants no AWS service: only IAM in this account (the retention role's grant below)
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert statements and all("Service" not in json.dumps(s["Principal"]) for s in statements)
    [alias] = synth.resources("AWS::KMS::Alias", "Foundation").values()
    assert alias["Properties"]["TargetKeyId"] == {"Fn::GetAtt": [logical_id, "Arn"]}


def test_given_the_retention_role_then_it_may_make_and_open_kek_with_the_master_key_and_nothing_more(
    dev_synth,
):
    logical_id, _ = _archive_master_key(dev_synth)
    _, function = _retention_function(dev_synth)
    # The function is told which key (the ARN, exported by the foundation stack)
    env = function["Properties"]["Environment"]["Variables"]
    assert logical_id in json.dumps(env["TG_ARCHIVE_KMS_KEY_ID"])
    # Its role: exactly GenerateDataKey and Decrypt on that key, only with the keyring's purpose
    statements = _statements_of_role(dev_synth, function["Properties"]["Role"]["Fn::GetAtt"][0])
    on_key = [s for s in statements if logical_id in json.dumps(s["Resource"])]
    assert len(on_key) == 1, on_key
    [grant] = on_key
    assert sorted(_list(grant["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert (
        grant["Effect"] == "Allow"
        and logical_id in json.dumps(grant["Resource"])
        and "*" not in json.dumps(grant["Resource"])
    )
    assert grant["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": PURPOSE}}
    # And no other function's role, nor any other policy of the service stack, names the key
    named = [
        p
        for p in dev_synth.resources("AWS::IAM::Policy", "Service").values()
        if logical_id in json.dumps(p["Properties"]["PolicyDocument"])
    ]
    assert len(named) == 1
    others = [
        name
        for name, f in dev_synth.resources("AWS::Lambda::Function", "Service").items()
        if logical_id in json.dumps(f["Properties"].get("Environment", {})) and f is not function
    ]
    assert others == []

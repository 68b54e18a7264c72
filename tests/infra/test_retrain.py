"""The retraining pipeline in the templates (infra/retrain.py, infra/model_access.py): nothing needs
Docker, the state machine's steps, least-privilege IAM for each role, the alarms."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.model_access import MODEL_ARCHITECTURES, OUTCOME, POINTER_KEY, ROLLOUT_KEY, TRAINING_SET
from infra.retrain import EMERGENCY_INPUT_EXAMPLE
from shared.model.layout import RUNS_PREFIX, library_name

pytestmark = pytest.mark.xdist_group("infra")

ARCHIVE = "${AWS::Partition}:s3:::ticketguard-dev-archive-${AWS::AccountId}-eu-west-1"
MODEL_READERS = ("score", "health", "features")


def flat(value: Any) -> str:
    """A (possibly tokenized) template string with each reference as ${Name}: Fn::Join flattened."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        [(function, argument)] = value.items()
        if function == "Fn::Join":
            return argument[0].join(flat(part) for part in argument[1])
        if function == "Ref":
            return "${" + argument + "}"
        if function == "Fn::GetAtt":
            return "${" + ".".join(argument) + "}"
        if function == "Fn::Sub":
            return argument
        if function == "Fn::ImportValue":
            return "${Import:" + flat(argument) + "}"
    return json.dumps(value)


def _service(synth) -> dict[str, Any]:
    return synth.stack("Service")["Resources"]


def _role_of_function(synth, name: str) -> str:
    for resource in _service(synth).values():
        props = resource["Properties"]
        if (
            resource["Type"] == "AWS::Lambda::Function"
            and props.get("Handler") == f"functions.{name}.handler.handler"
        ):
            return props["Role"]["Fn::GetAtt"][0]
    raise AssertionError(f"function {name} not in the service stack")


def _statements(synth, role: str) -> list[dict[str, Any]]:
    found = []
    for resource in _service(synth).values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]:
            found += resource["Properties"]["PolicyDocument"]["Statement"]
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants(statements: list[dict[str, Any]], *, effect: str = "Allow") -> set[tuple[str, str]]:
    """(action, resource) for every S3 permission, the archive bucket's objects as `archive/<key>`."""
    grants = set()
    for statement in statements:
        if statement.get("Effect", "Allow") != effect:
            continue
        for action in _listed(statement["Action"]):
            if not action.startswith("s3:"):
                continue
            for resource in _listed(statement["Resource"]):
                text = flat(resource).replace("arn:" + ARCHIVE, "archive")
                condition = statement.get("Condition", {}).get("StringEquals", {}).get("s3:prefix")
                grants.add((action, f"{text} prefix={condition}" if condition else text))
    return grants


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statements for action in _listed(statement["Action"])}


def _project(synth) -> tuple[str, dict[str, Any]]:
    [(logical_id, project)] = [
        (k, v) for k, v in _service(synth).items() if v["Type"] == "AWS::CodeBuild::Project"
    ]
    return logical_id, project["Properties"]


def _definition(synth) -> dict[str, Any]:
    return json.loads(flat(_machine(synth)["Properties"]["DefinitionString"]))


def _machine(synth) -> dict[str, Any]:
    """The retraining state machine (retention's rounds have one too: infra/rounds.py)."""
    [machine] = [
        v
        for v in _service(synth).values()
        if v["Type"] == "AWS::StepFunctions::StateMachine"
        and v["Properties"]["StateMachineName"] == f"ticketguard-{synth.config.name}-retrain"
    ]
    return machine


# ---------------------------------------------------------------------------------------- no Docker
@pytest.mark.parametrize("synth_fixture", ["dev_synth", "prod_synth"])
def test_given_the_app_then_no_asset_is_a_docker_image_and_the_build_runs_on_a_managed_image(
    synth_fixture, request
):
    synth = request.getfixturevalue(synth_fixture)
    manifests = sorted(Path(synth.outdir).glob("*.assets.json"))
    assert len(manifests) == 3
    for manifest in manifests:
        assert json.loads(manifest.read_text()).get("dockerImages", {}) == {}, manifest.name
    for resource in synth.resources("AWS::Lambda::Function").values():
        assert resource["Properties"].get("PackageType", "Zip") == "Zip"
    _, project = _project(synth)
    environment = project["Environment"]
    assert (environment["Image"], environment["Type"]) == (
        "aws/codebuild/amazonlinux-aarch64-standard:3.0",
        "ARM_CONTAINER",
    )
    assert environment["ImagePullCredentialsType"] == "CODEBUILD" and environment["PrivilegedMode"] is False


def test_given_the_build_then_its_source_is_the_project_as_a_zip_asset_with_only_what_training_needs(
    dev_synth,
):
    _, project = _project(dev_synth)
    assert project["Source"]["Type"] == "S3"
    asset_hash = flat(project["Source"]["Location"]).rsplit("/", 1)[1].removesuffix(".zip")
    staged = Path(dev_synth.outdir) / f"asset.{asset_hash}"
    for needed in (
        "pyproject.toml",
        "requirements/retrain-arm64.txt",
        "training/cli.py",
        "training/native",
        "model_artifacts/CURRENT",
    ):
        assert (staged / needed).exists(), needed
    for absent in (".venv", "node_modules", "cdk.out", "tests", "infra", ".git", "requirements/dev.txt"):
        assert not (staged / absent).exists(), absent
    assert not list(staged.rglob("__pycache__"))


def test_given_the_buildspec_then_it_installs_the_pinned_lock_and_runs_the_projects_train_entry_point(
    dev_synth,
):
    from training.cli import _parser

    _, project = _project(dev_synth)
    spec = json.loads(project["Source"]["BuildSpec"])
    install = spec["phases"]["install"]["commands"]
    assert install[1].endswith("--no-deps -r requirements/retrain-arm64.txt")
    assert install[2].endswith("--no-deps --editable .")
    [command] = spec["phases"]["build"]["commands"]
    words = shlex.split(command)
    assert words[0].endswith("/bin/ticketguard") and words[1] == "train"
    # the very parser of `ticketguard train` accepts what CodeBuild passes it
    args = _parser().parse_args(words[2:])
    assert args.training_set == "$TG_TRAINING_SET" and args.registry == "$TG_MODEL_REGISTRY"
    assert args.outcome == "$TG_OUTCOME" and args.arch == "$TG_MODEL_ARCHITECTURE"
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert variables["TG_MODEL_ARCHITECTURE"] == "aarch64"
    assert flat(variables["TG_MODEL_REGISTRY"]).endswith("-eu-west-1/models/")


# ------------------------------------------------------------------------------------ state machine
def test_given_the_state_machine_then_it_exports_trains_on_codebuild_and_publishes_in_that_order(dev_synth):
    definition = _definition(dev_synth)
    states = definition["States"]
    assert definition["StartAt"] == "ExportTrainingSet"
    export = states["ExportTrainingSet"]
    assert "FunctionsRetrainExport" in export["Resource"]
    assert export["Parameters"] == {
        "request.$": "$",
        "run_id.$": "$$.Execution.Name",
        "started_at.$": "$$.Execution.StartTime",
    }
    assert any(r["ErrorEquals"] == ["DependencyUnavailable"] for r in export["Retry"])
    plan = states[export["Next"]]
    assert plan["Type"] == "Choice"
    assert plan["Choices"] == [
        {"Variable": "$.export.status", "StringEquals": "skipped", "Next": "NotThisWeek"}
    ]
    assert states["NotThisWeek"]["Type"] == "Succeed"
    train = states[plan["Default"]]
    assert train["Resource"].endswith(":states:::codebuild:startBuild.sync")
    overrides = {v["Name"]: v["Value.$"] for v in train["Parameters"]["EnvironmentVariablesOverride"]}
    assert overrides == {
        "TG_TRAINING_SET": "$.export.training_set",
        "TG_OUTCOME": "$.export.outcome",
        "TG_TRAINING_SOURCE": "$.export.source",
    }
    publish = states[train["Next"]]
    assert "FunctionsRetrainPublish" in publish["Resource"]
    assert publish["Parameters"] == {"run_id.$": "$$.Execution.Name", "outcome.$": "$.export.outcome"}
    outcome = states[publish["Next"]]
    assert outcome["Choices"][0] == {
        "Variable": "$.publish.status",
        "StringEquals": "promoted",
        "Next": "PagePromoted",
    }
    # Each outcome is paged (the MEDIUM topic), then ends: promoted (to shadow), refused, failed
    for page, end, kind in (
        ("PagePromoted", "Promoted", "Succeed"),
        (outcome["Default"], "Refused", "Succeed"),
        ("PageFailed", "Failed", "Fail"),
    ):
        assert states[page]["Resource"].endswith(":states:::sns:publish"), page
        assert "AlertsMedium" in flat(states[page]["Parameters"]["TopicArn"])
        assert states[page]["Parameters"]["Message.$"] == "$"
        assert states[page]["Next"] == end and states[end]["Type"] == kind
    for step in (export, train, publish):
        assert [c["Next"] for c in step["Catch"]] == ["PageFailed"]
    assert definition["TimeoutSeconds"] <= 3 * 3600 and train["TimeoutSeconds"] <= 2 * 3600
    assert '"reason": "drift"' in definition["Comment"]  # the emergency hook is documented on the machine


def test_given_the_state_machine_then_it_is_traced_logs_everything_and_is_started_by_the_schedule(dev_synth):
    template = Template.from_json(dev_synth.stack("Service"))
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineName": "ticketguard-dev-retrain",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like({"Level": "ALL"}),
        },
    )
    [machine_id] = template.find_resources(
        "AWS::StepFunctions::StateMachine", {"Properties": {"StateMachineName": "ticketguard-dev-retrain"}}
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Name": "ticketguard-dev-retrain",
            "ScheduleExpression": "cron(0 2 ? * SUN *)",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Ref": machine_id},
                        "Input": json.dumps({"cadence": "biweekly"}, separators=(",", ":")),
                    }
                )
            ],
        },
    )


def test_given_the_emergency_hook_then_its_documented_input_is_what_the_export_step_accepts():
    from shared.jobs.retrain import RetrainRequest, should_run

    emergency = RetrainRequest.model_validate(EMERGENCY_INPUT_EXAMPLE)
    assert emergency.reason == "drift" and emergency.cadence is None
    from datetime import UTC, datetime

    odd_sunday = datetime(2026, 11, 22, 2, tzinfo=UTC)  # ISO week 47
    assert should_run(odd_sunday, emergency.cadence)[0] is True
    assert should_run(odd_sunday, RetrainRequest.model_validate({"cadence": "biweekly"}).cadence)[0] is False


# ----------------------------------------------------------------------------------------------- IAM
def test_given_the_model_readers_then_they_read_current_the_manifests_and_their_library_and_write_nothing(
    dev_synth,
):
    library = library_name(MODEL_ARCHITECTURES["arm64"])
    expected = {
        ("s3:GetObject", f"archive/{POINTER_KEY}"),
        ("s3:GetObject", f"archive/{ROLLOUT_KEY}"),
        ("s3:GetObject", "archive/models/*/manifest.json"),
        ("s3:GetObject", f"archive/models/*/{library}"),
        ("s3:ListBucket", f"archive prefix={POINTER_KEY}"),
    }
    for name in MODEL_READERS:
        statements = _statements(dev_synth, _role_of_function(dev_synth, name))
        assert _grants(statements) == expected, name
        [key] = [s for s in statements if s.get("Sid") == "ModelRegistryKey"]
        assert key["Action"] == "kms:Decrypt"
        assert key["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    metrics = _statements(dev_synth, _role_of_function(dev_synth, "metrics"))
    assert _grants(metrics) == set()


def test_given_the_export_step_then_it_reads_the_database_secret_and_writes_only_training_sets(dev_synth):
    [function] = [
        r["Properties"]
        for r in _service(dev_synth).values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "functions.retrain_export.handler.handler"
    ]
    assert "TG_DB_SECRET_ARN" in function["Environment"]["Variables"]
    assert function["Timeout"] == 900 and function["VpcConfig"]["SubnetIds"]
    statements = _statements(dev_synth, _role_of_function(dev_synth, "retrain_export"))
    assert _grants(statements) == {("s3:PutObject", f"archive/{TRAINING_SET}")}
    secrets = [s for s in statements if s.get("Sid") == "ReadSecrets"]
    assert any("DatabasePostgresSecret" in flat(r) for s in secrets for r in _listed(s["Resource"]))


def test_given_the_publish_step_then_it_writes_only_current_and_rollout_and_it_has_no_database(dev_synth):
    statements = _statements(dev_synth, _role_of_function(dev_synth, "retrain_publish"))
    writes = {resource for action, resource in _grants(statements) if action != "s3:GetObject"}
    assert writes == {f"archive/{POINTER_KEY}", f"archive/{ROLLOUT_KEY}", f"archive prefix={POINTER_KEY}"}
    reads = {resource for action, resource in _grants(statements) if action == "s3:GetObject"}
    assert {f"archive/{OUTCOME}", f"archive/{POINTER_KEY}", f"archive/{ROLLOUT_KEY}"} <= reads
    [function] = [
        r["Properties"]
        for r in _service(dev_synth).values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "functions.retrain_publish.handler.handler"
    ]
    assert function["Environment"]["Variables"]["TG_RETRAIN_PUBLISH_TO"] == "shadow"  # a new version: shadow
    assert not any("DatabasePostgresSecret" in flat(r) for s in statements for r in _listed(s["Resource"]))


def test_given_the_build_then_it_writes_candidates_and_outcomes_and_is_denied_current(dev_synth):
    _, project = _project(dev_synth)
    role = project["ServiceRole"]["Fn::GetAtt"][0]
    statements = _statements(dev_synth, role)
    allowed = _grants(statements)
    assert {resource for action, resource in allowed if action == "s3:PutObject"} == {
        "archive/models/v*/*",
        f"archive/{OUTCOME}",
    }
    assert ("s3:GetObject", f"archive/{TRAINING_SET}") in allowed
    assert _grants(statements, effect="Deny") == {
        ("s3:PutObject", f"archive/{POINTER_KEY}"),
        ("s3:DeleteObject", f"archive/{POINTER_KEY}"),
        ("s3:PutObject", f"archive/{ROLLOUT_KEY}"),
        ("s3:DeleteObject", f"archive/{ROLLOUT_KEY}"),
    }
    # the source asset: its one object, never the whole bootstrap bucket
    [source] = [s for s in statements if s.get("Sid") == "SourceAsset"]
    assert flat(source["Resource"]).endswith(".zip")
    services = {action.split(":")[0] for action in _actions(statements)}
    assert services == {"s3", "kms", "logs", "codebuild"}
    assert not any("*" in action for action in _actions(statements) if action.startswith(("s3:", "kms:")))


def test_given_the_state_machine_role_then_it_invokes_the_two_steps_and_runs_the_one_build(dev_synth):
    machine = _machine(dev_synth)
    statements = _statements(dev_synth, machine["Properties"]["RoleArn"]["Fn::GetAtt"][0])
    invoked = {flat(r) for s in statements if s["Action"] == "lambda:InvokeFunction" for r in s["Resource"]}
    functions = {r.split(".")[0].removeprefix("${") for r in invoked}
    assert len(functions) == 2
    assert all(f.startswith(("FunctionsRetrainExport", "FunctionsRetrainPublish")) for f in functions)
    logical_id, _ = _project(dev_synth)
    [build] = [s for s in statements if "codebuild:StartBuild" in _listed(s["Action"])]
    assert build["Resource"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert not any(a.startswith(("s3:", "ssm:", "secretsmanager:")) for a in _actions(statements))


def test_given_every_pipeline_role_then_none_may_change_a_function_or_publish_a_layer(dev_synth):
    # The model reaches the functions through the registry's CURRENT (shared/model/remote.py), not by
    # rewriting their configuration: nothing holds Lambda write actions, and SSM writes only the audit
    # chain's anchor (the SIEM's, shared/audit/anchor.py), no parameter a function is configured by.
    for resource in _service(dev_synth).values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        statements = resource["Properties"]["PolicyDocument"]["Statement"]
        assert not {a for a in _actions(statements) if a.startswith(("lambda:Update", "lambda:Publish"))}
        for statement in statements:
            if any(a.startswith("ssm:Put") for a in _listed(statement["Action"])):
                assert flat(statement["Resource"]).endswith(":parameter/ticketguard/dev/audit/chain-head")


def test_given_the_archive_bucket_then_run_data_expires_and_models_never_do(dev_synth):
    [bucket] = [
        b["Properties"]
        for b in dev_synth.resources("AWS::S3::Bucket", stack="Foundation").values()
        if "BucketName" in b["Properties"]
    ]
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules[RUNS_PREFIX.rstrip("/")]["Prefix"] == RUNS_PREFIX
    assert rules[RUNS_PREFIX.rstrip("/")]["ExpirationInDays"] == 30
    assert not any((rule.get("Prefix") or "").startswith("models") for rule in rules.values())


# -------------------------------------------------------------------------------------------- alarms
def test_given_the_pipeline_then_failed_executions_and_failed_builds_page_the_medium_topic(dev_synth):
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in dev_synth.resources("AWS::CloudWatch::Alarm").values()
    }
    failed = alarms["ticketguard-dev-retrain-failed"]
    stats = {m["Id"]: m["MetricStat"]["Metric"] for m in failed["Metrics"] if "MetricStat" in m}
    assert {m["MetricName"] for m in stats.values()} == {
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    }
    assert all(
        m["Namespace"] == "AWS/States" and m["Dimensions"][0]["Name"] == "StateMachineArn"
        for m in stats.values()
    )
    build = alarms["ticketguard-dev-retrain-build-failed"]
    assert (build["Namespace"], build["MetricName"], build["Statistic"]) == (
        "AWS/CodeBuild",
        "FailedBuilds",
        "Sum",
    )
    for alarm in (failed, build):
        assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert "AlertsMedium" in json.dumps(alarm["AlarmActions"])

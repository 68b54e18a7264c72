"""Issue 10: what `cdk deploy` would refuse, or what would break right after it, held to the templates.

Each test here failed on the templates before the fix it names (CloudFormation validates these only at
deploy time, and cfn-lint does not know them)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from infra.config import REQUEST_STATEMENT_TIMEOUT_MS, load_environment
from infra.functions import CATALOG, spec
from shared.config import Settings
from tests.fixtures.infra import cdk_context

pytestmark = pytest.mark.xdist_group("infra")

API = {item.name for item in CATALOG if item.kind == "api"}  # every function API Gateway invokes
ACCOUNT, REGION = "123456789012", "eu-west-1"


def _functions(synth) -> dict[str, dict]:
    by_description = {item.description: item.name for item in CATALOG}
    return {
        by_description[props["Description"]]: props
        for resource in synth.resources("AWS::Lambda::Function", stack="Service").values()
        if (props := resource["Properties"]).get("Description") in by_description
    }


def _direct_jobs(synth) -> set[str]:
    """The deployed functions that open database sessions of their own: jobs and migrations (the API
    functions and the ingest queue's consumer go through the proxy)."""
    return {
        name for name in _functions(synth) if spec(name).database and spec(name).kind not in {"api", "queue"}
    }


def _db_groups(synth) -> dict[str, str]:
    groups = synth.resources("AWS::EC2::SecurityGroup", stack="Foundation")
    return {g["Properties"]["GroupDescription"]: lid for lid, g in groups.items()}


# ---------------------------------------------------------------- finding 1: jobs to the instance


def test_given_api_functions_then_they_reach_postgres_through_rds_proxy_only(dev_synth):
    functions = _functions(dev_synth)
    direct_group = next(
        lid for d, lid in _db_groups(dev_synth).items() if d.startswith("Jobs and migrations")
    )
    assert API & set(functions) >= {"score", "metrics", "health", "ingest_batches"}
    for name in API & set(functions):
        env = functions[name]["Environment"]["Variables"]
        assert "TG_DB_DIRECT_HOST" not in env and "TG_DB_DIRECT_PORT" not in env, name
        assert direct_group not in json.dumps(functions[name]["VpcConfig"]["SecurityGroupIds"]), name


def test_given_jobs_and_migrations_then_they_get_the_instance_endpoint_and_a_rule_to_its_port(dev_synth):
    # Given the job functions (and the migrations custom resource) that hold database sessions
    functions = _functions(dev_synth)
    jobs = _direct_jobs(dev_synth)
    assert {"etl", "features", "refresh_views", "migrations"} <= jobs
    [instance] = dev_synth.resources("AWS::RDS::DBInstance").values()
    port = str(instance["Properties"]["Port"])
    groups = _db_groups(dev_synth)
    db_group = next(lid for d, lid in groups.items() if d.startswith("PostgreSQL"))
    direct_group = next(lid for d, lid in groups.items() if d.startswith("Jobs and migrations"))
    for name in jobs:
        env = functions[name]["Environment"]["Variables"]
        # Then each gets the instance's own endpoint and port (not the proxy's 5432)...
        assert "EndpointAddress" in json.dumps(env["TG_DB_DIRECT_HOST"]), name
        assert env["TG_DB_DIRECT_PORT"] == port != "5432", name
        # ...and carries the one security group the instance admits besides the proxy's
        assert direct_group in json.dumps(functions[name]["VpcConfig"]["SecurityGroupIds"]), name
    ingress = [
        rule["Properties"]
        for rule in dev_synth.resources("AWS::EC2::SecurityGroupIngress", stack="Foundation").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [db_group, "GroupId"]}
    ]
    sources = {rule["SourceSecurityGroupId"]["Fn::GetAtt"][0] for rule in ingress}
    proxy_group = next(lid for d, lid in groups.items() if d.startswith("RDS Proxy"))
    [rotation_group] = [lid for d, lid in groups.items() if "RotationSingleUser" in d]
    # the functions' shared group is not admitted: an API function cannot bypass the proxy
    assert sources == {proxy_group, direct_group, rotation_group}
    [direct_rule] = [
        rule for rule in ingress if rule["SourceSecurityGroupId"]["Fn::GetAtt"][0] == direct_group
    ]
    assert (str(direct_rule["FromPort"]), str(direct_rule["ToPort"])) == (port, port)


def test_given_the_parameter_group_then_the_request_paths_statement_timeout_is_the_server_default(dev_synth):
    # RDS Proxy forwards no startup option and pins a session on SET: the server default is the timeout
    # every pooled connection gets (PgBouncer's connect_query does the same locally)
    [group] = dev_synth.resources("AWS::RDS::DBParameterGroup").values()
    expected = Settings.model_fields["db_statement_timeout_ms"].default
    assert REQUEST_STATEMENT_TIMEOUT_MS == expected == 2000
    assert group["Properties"]["Parameters"]["statement_timeout"] == str(expected)


@pytest.mark.parametrize("synth_name", ["dev_synth", "prod_synth"])
def test_given_the_proxy_then_a_request_waits_at_most_3_seconds_for_a_connection(synth_name, request):
    synth = request.getfixturevalue(synth_name)
    [target_group] = synth.resources("AWS::RDS::DBProxyTargetGroup").values()
    borrow = target_group["Properties"]["ConnectionPoolConfigurationInfo"]["ConnectionBorrowTimeout"]
    assert 1 <= borrow <= 3  # RDS's default is 120 s; PgBouncer's query_wait_timeout locally 2 s


# ---------------------------------------------------------------- finding 2: ARNs the services accept

# What each service accepts where it is handed a log group's ARN. Cognito's pattern is the API's
# (CloudFormation reference, CloudWatchLogsConfiguration.LogGroupArn); WAF wants a group named
# aws-waf-logs-*; API Gateway access logs take the ARN with or without the `:*`.
COGNITO = r"arn:[\w+=/,.@-]+:[\w+=/,.@-]+:([\w+=/,.@-]*)?:[0-9]+:[\w+=/,.@-]+(:[\w+=/,.@-]+)?(:[\w+=/,.@-]+)?"
WAF = r"arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:aws-waf-logs-[\w.#/-]+"
API_GATEWAY = r"arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:[\w.#/-]+(:\*)?"
# Step Functions' logging destination: "The ARN must end with :*" (CloudFormation reference).
STEP_FUNCTIONS = r"arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:[\w.#/-]+:\*"
ACCEPTED = {
    (
        "AWS::Cognito::LogDeliveryConfiguration",
        "LogConfigurations[].CloudWatchLogsConfiguration.LogGroupArn",
    ): COGNITO,
    ("AWS::WAFv2::LoggingConfiguration", "LogDestinationConfigs[]"): WAF,
    ("AWS::ApiGateway::Stage", "AccessLogSetting.DestinationArn"): API_GATEWAY,
    (
        "AWS::StepFunctions::StateMachine",
        "LoggingConfiguration.Destinations[].CloudWatchLogsLogGroup.LogGroupArn",
    ): STEP_FUNCTIONS,
    # A subscription filter's permission to invoke its function: the log group's ARN as CloudWatch Logs
    # presents it (issue 25's SIEM subscriptions).
    ("AWS::Lambda::Permission", "SourceArn"): STEP_FUNCTIONS,
}
# Policies name ARNs too, but IAM and KMS accept the `:*` form (it is what scopes a group's streams).
POLICY_TYPES = {"AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy", "AWS::KMS::Key"}


def _render(value: Any, resources: dict[str, Any]) -> str:
    """A template value as the deployed string (pseudo parameters and log groups filled in)."""
    if isinstance(value, str):
        return value
    [(function, argument)] = value.items()
    if function == "Fn::Join":
        return argument[0].join(_render(part, resources) for part in argument[1])
    if function == "Ref":
        pseudo = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION}
        if argument in pseudo:
            return pseudo[argument]
        return resources[argument]["Properties"].get("LogGroupName", f"{argument}-GENERATED1234")
    if function == "Fn::GetAtt" and argument[1] == "Arn":
        name = _render({"Ref": argument[0]}, resources)
        return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"  # the documented Arn attribute
    raise AssertionError(f"cannot render {value!r}")


def _names_a_log_group_arn(node: dict, resources: dict[str, Any]) -> bool:
    if "Fn::GetAtt" in node:
        logical_id, attribute = node["Fn::GetAtt"]
        return attribute == "Arn" and resources.get(logical_id, {}).get("Type") == "AWS::Logs::LogGroup"
    return "Fn::Join" in node and ":log-group:" in json.dumps(node)


def _log_group_arns(node: Any, resources: dict[str, Any], path: str = "") -> list[tuple[str, Any]]:
    """(path, value) of every value naming a log group's ARN: its Arn attribute or a built one."""
    if isinstance(node, list):
        return [hit for item in node for hit in _log_group_arns(item, resources, f"{path}[]")]
    if not isinstance(node, dict):
        return []
    if _names_a_log_group_arn(node, resources):
        return [(path, node)]
    return [
        hit
        for key, item in node.items()
        for hit in _log_group_arns(item, resources, f"{path}.{key}".lstrip("."))
    ]


@pytest.mark.parametrize("synth_name", ["dev_synth", "prod_synth"])
def test_given_every_log_group_arn_handed_to_a_service_then_it_matches_the_pattern_that_service_accepts(
    synth_name, request
):
    synth = request.getfixturevalue(synth_name)
    checked = set()
    for template in synth.templates.values():
        resources = template["Resources"]
        for logical_id, resource in resources.items():
            if resource["Type"] in POLICY_TYPES:
                continue
            for path, value in _log_group_arns(resource.get("Properties", {}), resources):
                where = (resource["Type"], path)
                assert where in ACCEPTED, f"{logical_id}: {where} takes a log group ARN: add its pattern"
                arn = _render(value, resources)
                assert re.fullmatch(ACCEPTED[where], arn), f"{logical_id}.{path}: {arn} is refused"
                checked.add(where)
    assert {where for where in ACCEPTED if where[0] != "AWS::ApiGateway::Stage"} <= checked


def test_given_the_cognito_activity_log_group_then_it_is_not_kms_encrypted(dev_synth):
    # Cognito delivers only to a log group without a KMS key (CloudWatchLogsConfiguration.LogGroupArn)
    [delivery] = dev_synth.resources("AWS::Cognito::LogDeliveryConfiguration").values()
    [config] = delivery["Properties"]["LogConfigurations"]
    [group_id] = re.findall(r'"Ref": "(?!AWS::)([^"]+)"', json.dumps(config["CloudWatchLogsConfiguration"]))
    group = dev_synth.stack("Service")["Resources"][group_id]
    assert group["Type"] == "AWS::Logs::LogGroup" and "KmsKeyId" not in group["Properties"]
    assert group["Properties"]["RetentionInDays"] == 30


# ---------------------------------------------------------------- finding 5: the dead letters' key


def _statements(template: dict, role_id: str) -> list[dict]:
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]:
            found += resource["Properties"]["PolicyDocument"]["Statement"]
    role = template["Resources"][role_id]["Properties"]
    for policy in role.get("Policies", []):
        found += policy["PolicyDocument"]["Statement"]
    return found


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def test_given_every_role_that_sends_to_an_encrypted_queue_then_it_may_use_that_queues_key(dev_synth):
    checked = 0
    for template in dev_synth.templates.values():
        resources = template["Resources"]
        queues = {
            lid: r["Properties"]["KmsMasterKeyId"]
            for lid, r in resources.items()
            if r["Type"] == "AWS::SQS::Queue" and "KmsMasterKeyId" in r["Properties"]
        }
        for role_id in (lid for lid, r in resources.items() if r["Type"] == "AWS::IAM::Role"):
            statements = _statements(template, role_id)
            for statement in statements:
                if "sqs:SendMessage" not in _as_list(statement["Action"]):
                    continue
                for queue in (q for q in queues if q in json.dumps(statement["Resource"])):
                    key = queues[queue]
                    granted = {
                        action
                        for s in statements
                        if s["Effect"] == "Allow" and key in _as_list(s["Resource"])
                        for action in _as_list(s["Action"])
                    }
                    assert {"kms:GenerateDataKey", "kms:Decrypt"} <= granted, f"{role_id} -> {queue}"
                    checked += 1
    assert checked >= 3  # etl, features, refresh_views


# ---------------------------------------------------------------- finding 6: reserved concurrency


def _environment(name: str, **changes: Any) -> dict:
    raw = json.loads(json.dumps(cdk_context()["environments"][name]))
    raw.update(changes)
    return {name: raw}


def test_given_dev_then_no_function_reserves_concurrency(dev_synth):
    assert load_environment(cdk_context()["environments"], "dev").account_concurrency_limit is None
    for name, props in _functions(dev_synth).items():
        assert "ReservedConcurrentExecutions" not in props, name


def test_given_prod_then_its_reservations_are_in_the_template_and_leave_100_unreserved(prod_synth):
    functions = _functions(prod_synth)
    assert functions["score"]["ReservedConcurrentExecutions"] == 100
    assert functions["metrics"]["ReservedConcurrentExecutions"] == 10
    assert functions["etl"]["ReservedConcurrentExecutions"] == 1
    total = sum(props.get("ReservedConcurrentExecutions", 0) for props in functions.values())
    assert total <= prod_synth.config.account_concurrency_limit - 100


def test_given_reservations_above_the_account_limit_when_loading_then_synth_refuses_naming_them():
    # prod reserves 120 in all (score 100, metrics 10, ten functions 1 each); an account of 200 allows 100
    with pytest.raises(
        ValidationError,
        match=r"reserve 120 concurrent executions \(etl 1,.*score 100, siem 1, soar 1\).*at most 100",
    ):
        load_environment(_environment("prod", account_concurrency_limit=200), "prod")


def test_given_reservations_without_an_account_limit_when_loading_then_synth_asks_for_it():
    raw = _environment("dev", functions={"score": {"reserved_concurrency": 5}})
    with pytest.raises(ValidationError, match="account_concurrency_limit is not set"):
        load_environment(raw, "dev")


# ---------------------------------------------------------------- finding 9: the chain, on purpose


def test_given_no_chain_settings_when_chain_ingestion_is_on_then_synth_refuses_naming_them():
    raw = _environment("dev", chain_ingestion=True)
    with pytest.raises(
        ValidationError, match="chain ingestion needs chain_rpc_url_parameter and contract_address"
    ):
        load_environment(raw, "dev")
    half = _environment("dev", chain_ingestion=True, chain_rpc_url_parameter="/ticketguard/dev/rpc")
    with pytest.raises(ValidationError, match="needs contract_address"):
        load_environment(half, "dev")


# ---------------------------------------------------------------- no Docker at deploy


@pytest.mark.parametrize("synth_name", ["dev_synth", "prod_synth"])
def test_given_the_synthesized_app_then_no_asset_needs_docker(synth_name, request):
    synth = request.getfixturevalue(synth_name)
    manifests = sorted(synth.outdir.glob("*.assets.json"))
    assert manifests
    images = {path.name: json.loads(path.read_text()).get("dockerImages") for path in manifests}
    assert {name: found for name, found in images.items() if found} == {}

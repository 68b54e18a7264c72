"""The functions: one helper, common settings, least privilege, async safety."""

from __future__ import annotations

import json

import pytest

from infra.assets import handler_exists
from infra.functions import CATALOG

pytestmark = pytest.mark.xdist_group("infra")

DATA_SERVICES = (
    "s3:",
    "rds:",
    "rds-db:",
    "secretsmanager:",
    "sqs:",
    "sns:",
    "elasticache:",
    "dynamodb:",
    "ssm:",
)


def _functions(synth) -> dict[str, dict]:
    """Our functions (by catalog name), leaving out the CDK framework helpers."""
    by_description = {spec.description: spec.name for spec in CATALOG}
    found = {}
    for resource in synth.resources("AWS::Lambda::Function", stack="Service").values():
        name = by_description.get(resource["Properties"].get("Description"))
        if name:
            found[name] = resource["Properties"]
    return found


def test_given_the_catalog_then_every_required_function_is_written_and_deployed(dev_synth):
    deployed = _functions(dev_synth)
    for item in CATALOG:
        if item.required:
            assert item.name in deployed, f"functions/{item.name}/handler.py is missing"
        elif handler_exists(item.name):
            assert item.name in deployed


def test_given_every_function_then_it_runs_python_3_12_on_the_configured_architecture_with_tracing(dev_synth):
    for name, props in _functions(dev_synth).items():
        assert props["Runtime"] == "python3.12", name
        assert props["Handler"] == f"functions.{name}.handler.handler"
        assert props["Architectures"] == ["arm64"], name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert "SubnetIds" in props["VpcConfig"] and props["VpcConfig"]["SecurityGroupIds"]
        assert "KmsKeyArn" in props  # environment encrypted with our key
        env = props["Environment"]["Variables"]
        assert (
            env["POWERTOOLS_METRICS_NAMESPACE"] == "TicketGuard"
            and env["POWERTOOLS_SERVICE_NAME"] == "ticketguard"
        )
        assert not any("PASSWORD" in key or "TOKEN" in key for key in env), "secrets travel as ARNs only"


def test_given_the_score_function_then_it_mounts_the_model_layer_at_opt_model(dev_synth):
    functions = _functions(dev_synth)
    score = functions["score"]
    assert len(score["Layers"]) == 2
    assert score["Environment"]["Variables"]["TG_MODEL_DIR"] == "/opt/model"
    for name in ("metrics", "migrations"):
        if name in functions:
            assert len(functions[name]["Layers"]) == 1
            assert "TG_MODEL_DIR" not in functions[name]["Environment"]["Variables"]


def test_given_the_features_function_then_it_mounts_the_model_layer_for_drift(dev_synth):
    # Given the synthesized service stack
    functions = _functions(dev_synth)
    # Then the features function, which measures the served model's drift (ModelDriftKL) after each
    # run, mounts the same model layer as score and reads the manifest from /opt/model
    features, score = functions["features"], functions["score"]
    assert len(features["Layers"]) == 2 and features["Layers"] == score["Layers"]
    assert features["Environment"]["Variables"]["TG_MODEL_DIR"] == "/opt/model"


def test_given_database_functions_then_they_get_the_proxy_endpoint_and_the_secret_arn(dev_synth):
    database = {item.name for item in CATALOG if item.database}
    for name, props in _functions(dev_synth).items():
        env = props["Environment"]["Variables"]
        if name not in database:
            assert "TG_DB_SECRET_ARN" not in env, name
            continue
        assert env["TG_DB_PORT"] == "5432", name
        assert "TG_DB_SECRET_ARN" in env and "TG_DB_HOST" in env and env["TG_DB_NAME"] == "ticketguard"


def test_given_scheduled_jobs_then_they_have_a_dead_letter_queue_bounded_retries_and_prod_reserves_one(
    dev_synth, prod_synth
):
    functions = _functions(dev_synth)
    configs = {
        json.dumps(c["Properties"]["FunctionName"]): c["Properties"]
        for c in dev_synth.resources("AWS::Lambda::EventInvokeConfig").values()
    }
    jobs = [item.name for item in CATALOG if item.kind == "job" and item.name in functions]
    prod = _functions(prod_synth)
    for name in jobs:
        props = functions[name]
        assert "TargetArn" in props["DeadLetterConfig"], name
        # dev reserves nothing (a new account has 10 in all); prod one each (cdk.json)
        assert "ReservedConcurrentExecutions" not in props, name
        assert prod[name]["ReservedConcurrentExecutions"] == 1, name
    assert len(configs) == len(jobs)
    assert all(config["MaximumRetryAttempts"] == 2 for config in configs.values())
    # ...and only they: API functions, steps and the queue's consumer are invoked synchronously (or by
    # a poller with its own dead-letter queue), where Lambda's asynchronous DLQ never applies
    synchronous = [item.name for item in CATALOG if item.kind != "job" and item.name in functions]
    assert {"score", "metrics", "health"} <= set(synchronous)
    for name in synchronous:
        assert "DeadLetterConfig" not in functions[name], name


def test_given_every_function_then_it_has_its_own_role(dev_synth):
    roles = [json.dumps(props["Role"]) for props in _functions(dev_synth).values()]
    assert len(roles) == len(set(roles))


def test_given_every_iam_policy_then_no_wildcard_action_touches_a_data_resource(dev_synth):
    offending = []
    for synth_name, template in dev_synth.templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Policy":
                documents = [resource["Properties"]["PolicyDocument"]]
            elif resource["Type"] == "AWS::IAM::Role":
                documents = [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
            else:
                continue
            for document in documents:
                for statement in document["Statement"]:
                    actions = statement.get("Action", [])
                    actions = [actions] if isinstance(actions, str) else actions
                    for action in actions:
                        if action == "*" or (action.startswith(DATA_SERVICES) and "*" in action):
                            offending.append(f"{synth_name}/{logical_id}: {action}")
    assert offending == []


def test_given_every_function_role_then_wildcard_resources_are_only_for_eni_and_xray(dev_synth):
    allowed = {
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    for logical_id, policy in dev_synth.resources("AWS::IAM::Policy", stack="Service").items():
        if not logical_id.startswith("Functions"):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Resource"] == "*":
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                assert set(actions) <= allowed, (logical_id, actions)


# API Gateway REST's integration timeout: at most 29 s (DESIGN.md, "Two places it runs").
API_GATEWAY_INTEGRATION_TIMEOUT_MS = 29_000


@pytest.mark.parametrize("synth_name", ["dev_synth", "prod_synth"])
def test_given_api_functions_then_they_time_out_before_api_gateway_gives_up_on_them(synth_name, request):
    # Given an environment's REST API and its functions
    synth = request.getfixturevalue(synth_name)
    (api,) = synth.resources("AWS::ApiGateway::RestApi", stack="Service").values()
    timeouts = [
        operation["x-amazon-apigateway-integration"]["timeoutInMillis"]
        for operations in api["Properties"]["Body"]["paths"].values()
        for operation in operations.values()
        if isinstance(operation, dict)
        and "timeoutInMillis" in operation.get("x-amazon-apigateway-integration", {})
    ]
    api_functions = {
        name: props
        for name, props in _functions(synth).items()
        if name in {s.name for s in CATALOG if s.kind == "api"}
    }
    # Then every integration waits at most API Gateway's 29 s...
    assert timeouts and max(timeouts) <= API_GATEWAY_INTEGRATION_TIMEOUT_MS
    # ...and every API function ends before its integration does (no work left running after a 504)
    assert api_functions
    for name, props in api_functions.items():
        assert props["Timeout"] * 1000 < min(timeouts), name

"""The REST API: built from the one OpenAPI document, validated, keyed, throttled, firewalled."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from infra.api import ADMIN_PREFIX, PUBLIC_ADMIN_OPERATIONS, gateway_document, key_scopes, load_document
from infra.ingest import QueueIntegration
from shared.api.access import ALLOWED_API_KEY_IDS_ENV
from shared.api.spec import ADMIN_SCHEME, FUNCTION_EXTENSION, operation_items
from shared.api.spec import operations as document_operations
from shared.api.usage_plans import USAGE_PLANS_PATH, ApiKey, Throttle, UsagePlan

pytestmark = pytest.mark.xdist_group("infra")

# The admin surface's operations (issue 26): one function, behind the admins' Cognito authorizer.
ADMIN_OPERATIONS = [op for op in document_operations() if op.function == "admin"]

ARNS = {
    "score": "arn:fn:score",
    "metrics": "arn:fn:metrics",
    "health": "arn:fn:health",
    "pricing": "arn:fn:pricing",
    "ingest_batches": "arn:fn:ingest_batches",
    "admin": "arn:fn:admin",
    "monitoring": "arn:fn:monitoring",
}


def _document_with_admin_route() -> dict:
    document = load_document()
    document["paths"]["/admin/monitoring"] = {
        "get": {
            FUNCTION_EXTENSION: "metrics",
            "operationId": "adminMonitoring",
            "responses": {"200": {"description": "ok"}},
        }
    }
    return document


def _plan(name: str, operations: list[str]) -> UsagePlan:
    return UsagePlan(
        name=name,
        throttle=Throttle(rate_limit=1, burst_limit=1),
        api_keys=[ApiKey(name=name, local_value=f"{name}-local-key-0000000000")],
        operations=operations,
    )


def _gateway(document: dict, arns: dict | None = None) -> tuple[dict, list[str]]:
    return gateway_document(
        document,
        function_arns=ARNS if arns is None else arns,
        region="eu-west-1",
        partition="aws",
        user_pool_arn="arn:pool",
    )


def test_given_the_document_when_completed_then_each_operation_proxies_to_its_function():
    body, undeployed = _gateway(load_document())
    # Without its queue the ingest route answers 503 (a mock); with it, see the queue tests below
    assert undeployed == ["POST /api/v1/events -> the ingest queue"]
    seen = {}
    for path, method, operation in operation_items(body):
        integration = operation["x-amazon-apigateway-integration"]
        if (method, path) == ("post", "/api/v1/events"):
            assert integration["type"] == "mock"
            continue
        assert integration["type"] == "aws_proxy" and integration["httpMethod"] == "POST"
        seen[(method, path)] = integration["uri"].split("/functions/")[1].split("/")[0]
        assert FUNCTION_EXTENSION not in operation
    assert seen[("post", "/api/v1/ml/predict/fraud")] == "arn:fn:score"
    assert seen[("get", "/api/v1/metrics")] == "arn:fn:metrics"
    assert seen[("get", "/health")] == "arn:fn:health"
    assert seen[("get", "/health/details")] == "arn:fn:health"
    assert seen[("get", "/api/v1/events/batches/{batch_id}")] == "arn:fn:ingest_batches"


def test_given_the_document_when_completed_then_the_source_document_is_left_untouched():
    document = load_document()
    before = json.dumps(document, sort_keys=True)
    _gateway(document)
    assert json.dumps(document, sort_keys=True) == before


def test_given_an_admin_route_when_completed_then_it_requires_the_cognito_authorizer_and_others_do_not():
    body, _ = _gateway(_document_with_admin_route())
    scheme = body["components"]["securitySchemes"][ADMIN_SCHEME]
    assert scheme["x-amazon-apigateway-authorizer"] == {
        "type": "cognito_user_pools",
        "providerARNs": ["arn:pool"],
    }
    for path, _method, operation in operation_items(body):
        if operation["operationId"] in PUBLIC_ADMIN_OPERATIONS:  # the monitoring page's shell and files
            assert operation["security"] == []
        elif path.startswith(ADMIN_PREFIX) or path.startswith("/api/v1/admin/"):
            assert operation["security"] == [{ADMIN_SCHEME: []}]
        else:
            assert ADMIN_SCHEME not in json.dumps(operation.get("security", []))


def test_given_the_monitoring_page_when_completed_then_only_its_shell_is_public_and_its_data_is_not():
    # Given the document with the monitoring page (issue 26): its shell and files declare no security
    body, _ = _gateway(load_document())
    public = {
        operation["operationId"]
        for path, _method, operation in operation_items(body)
        if path.startswith(ADMIN_PREFIX) and operation.get("security") == []
    }
    # Then exactly those stay without the authorizer (the resource policy keeps them to the admin networks)...
    assert public == PUBLIC_ADMIN_OPERATIONS == {"getMonitoringPage", "getMonitoringAsset"}
    # ...and every data route of the page carries the Cognito authorizer
    secured = {
        path: operation["security"]
        for path, _method, operation in operation_items(body)
        if path.startswith("/api/v1/admin/monitoring/")
    }
    assert secured and all(s == [{ADMIN_SCHEME: []}] for s in secured.values())


def test_given_another_admin_route_declared_public_then_the_document_is_refused():
    document = _document_with_admin_route()
    document["paths"]["/admin/monitoring"]["get"]["security"] = []
    with pytest.raises(ValueError, match="declares no security"):
        _gateway(document)


def test_given_the_document_when_completed_then_validation_applies_to_every_request():
    body, _ = _gateway(load_document())
    validator = body["x-amazon-apigateway-request-validator"]
    assert body["x-amazon-apigateway-request-validators"][validator] == {
        "validateRequestBody": True,
        "validateRequestParameters": True,
    }
    assert body["x-amazon-apigateway-api-key-source"] == "HEADER"


def test_given_gateway_errors_when_completed_then_they_answer_in_the_project_error_shape():
    body, _ = _gateway(load_document())
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert responses["BAD_REQUEST_BODY"]["statusCode"] == "400"
    assert responses["THROTTLED"]["statusCode"] == "429"
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
    for response in responses.values():
        rendered = response["responseTemplates"]["application/json"].replace(
            "$context.error.messageString", json.dumps("a message")
        )
        error = json.loads(rendered)["error"]
        assert set(error) == {"code", "message"} and error["code"]


def test_given_a_function_not_deployed_when_completed_then_its_route_answers_503_and_is_reported():
    body, undeployed = _gateway(load_document(), {"score": "arn:fn:score"})
    assert undeployed == [
        "GET /api/v1/metrics -> metrics",
        "GET /health -> health",
        "GET /health/details -> health",
        "POST /api/v1/events -> the ingest queue",
        "GET /api/v1/events/batches/{batch_id} -> ingest_batches",
        *(f"{op.method} {op.path} -> admin" for op in ADMIN_OPERATIONS),
        "GET /admin/monitoring -> monitoring",
        "GET /admin/monitoring/assets/{name} -> monitoring",
        "GET /api/v1/admin/monitoring/live -> monitoring",
        "GET /api/v1/admin/monitoring/aggregates -> monitoring",
        "POST /api/v1/pricing/assignments -> pricing",
        "GET /api/v1/pricing/experiment -> pricing",
    ]
    integration = body["paths"]["/health"]["get"]["x-amazon-apigateway-integration"]
    assert integration["type"] == "mock"
    assert integration["responses"]["default"]["statusCode"] == "503"


def test_given_an_operation_without_a_function_when_completed_then_synthesis_stops_naming_it():
    document = load_document()
    del document["paths"]["/health"]["get"][FUNCTION_EXTENSION]
    with pytest.raises(
        ValueError, match="GET /health has neither x-ticketguard-function nor x-ticketguard-queue"
    ):
        _gateway(document)


def _rest_api(synth) -> dict:
    [api] = synth.resources("AWS::ApiGateway::RestApi").values()
    return api["Properties"]


def test_given_the_synthesized_api_then_its_body_is_the_document_with_integrations(dev_synth):
    body = _rest_api(dev_synth)["Body"]
    document = load_document()
    assert set(body["paths"]) == set(document["paths"])
    assert (
        body["components"]["schemas"]["PredictRequest"] == document["components"]["schemas"]["PredictRequest"]
    )
    for _path, _method, operation in operation_items(body):
        assert "x-amazon-apigateway-integration" in operation


def test_given_the_synthesized_api_then_admin_paths_are_denied_outside_the_admin_cidrs(dev_synth):
    statements = _rest_api(dev_synth)["Policy"]["Statement"]
    [deny] = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Resource"] == ["execute-api:/*/*/admin/*", "execute-api:/*/*/api/v1/admin/*"]
    assert deny["Condition"]["NotIpAddress"]["aws:SourceIp"] == list(dev_synth.config.admin_cidrs)


# ---- the resource policy as API Gateway evaluates it. A request is the ARN
# arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path> (the path as requested: its
# parameters filled in), and the policy's `execute-api:/...` is that ARN's resource part. Two readings
# of `*`: IAM's (any characters, `/` included) and API Gateway's for execute-api (a `*` in the stage or
# verb position is that one segment; in the path a trailing `*` matches the rest, any other `*` one
# segment; https://repost.aws/questions/QU4Fkm_neaTBu6ub8RJsgFTQ). The admin networks' Deny must cover every
# admin operation under the narrow reading and no other operation under the broad one, so it holds
# under both.
API = "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3d4e5"


def _request_arn(method: str, path: str, stage: str = "dev") -> str:
    concrete = re.sub(r"\{[^}]+\}", "x-1", path)
    return f"{API}/{stage}/{method}{concrete}"


def _iam_match(resource: str, arn: str) -> bool:
    pattern = (
        re.escape(resource.replace("execute-api:", f"{API}", 1)).replace(r"\*", ".*").replace(r"\?", ".")
    )
    return re.fullmatch(pattern, arn) is not None


def _gateway_match(resource: str, arn: str) -> bool:
    stage, verb, *path = resource.removeprefix("execute-api:/").split("/")
    request_stage, request_verb, *request_path = arn.removeprefix(f"{API}/").split("/")
    if stage not in ("*", request_stage) or verb not in ("*", request_verb):
        return False
    if path and path[-1] == "*":
        head = path[:-1]
        return len(request_path) > len(head) and all(
            p in ("*", r) for p, r in zip(head, request_path, strict=False)
        )
    return len(path) == len(request_path) and all(
        p in ("*", r) for p, r in zip(path, request_path, strict=True)
    )


def _covered(resources: list[str], arn: str, match) -> bool:
    return any(match(resource, arn) for resource in resources)


def test_given_the_admin_networks_deny_then_every_admin_method_is_covered_and_no_other_under_both_readings(
    dev_synth,
):
    [deny] = [s for s in _rest_api(dev_synth)["Policy"]["Statement"] if s["Effect"] == "Deny"]
    resources = deny["Resource"]
    admin, other = [], []
    for op in document_operations():
        (admin if "/admin/" in op.path else other).append(_request_arn(op.method, op.path))
    secured = [op for op in document_operations() if op.requires_admin_token]
    assert len(admin) == len(secured) + len(PUBLIC_ADMIN_OPERATIONS)
    assert any("/api/v1/admin/" in arn for arn in admin)
    for arn in admin:
        assert _covered(resources, arn, _gateway_match), f"{arn} answers outside the admin networks"
        assert _covered(resources, arn, _iam_match), arn
    for arn in other:
        assert not _covered(resources, arn, _iam_match), f"{arn} is denied outside the admin networks"
        assert not _covered(resources, arn, _gateway_match), arn


def test_given_the_former_single_admin_resource_then_api_gateways_reading_misses_the_admin_api():
    # Given the Deny's former resource, which named only paths beginning with /admin/
    former = ["execute-api:/*/*/admin/*"]
    session, page = _request_arn("GET", "/api/v1/admin/session"), _request_arn("GET", "/admin/monitoring")
    # Then under IAM's reading it covered the admin API by accident of `*` spanning segments ...
    assert _covered(former, session, _iam_match) and _covered(former, page, _iam_match)
    # ... but under API Gateway's the /api/v1/admin/ routes answered from anywhere (the page did not)
    assert not _covered(former, session, _gateway_match) and _covered(former, page, _gateway_match)


def test_given_the_synthesized_stage_then_it_traces_logs_access_and_throttles(dev_synth):
    [stage] = dev_synth.resources("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    assert "AccessLogSetting" in props and '"ip"' in props["AccessLogSetting"]["Format"]
    [method_settings] = props["MethodSettings"]
    assert method_settings["LoggingLevel"] == "ERROR" and method_settings["DataTraceEnabled"] is False
    assert method_settings["ThrottlingRateLimit"] == dev_synth.config.api.stage_rate_per_second


def test_given_usage_plans_yaml_then_each_plan_and_key_is_deployed_with_its_throttle(dev_synth):
    plans = yaml.safe_load(USAGE_PLANS_PATH.read_text())["usage_plans"]
    deployed = {
        p["Properties"]["UsagePlanName"]: p["Properties"]
        for p in dev_synth.resources("AWS::ApiGateway::UsagePlan").values()
    }
    assert len(deployed) == len(plans)
    for plan in plans:
        props = deployed[f"ticketguard-dev-{plan['name']}"]
        assert props["Throttle"] == {
            "RateLimit": plan["throttle"]["rate_limit"],
            "BurstLimit": plan["throttle"]["burst_limit"],
        }
        if "quota" in plan:
            assert props["Quota"] == {"Limit": plan["quota"]["limit"], "Period": plan["quota"]["period"]}
    keys = dev_synth.resources("AWS::ApiGateway::ApiKey")
    assert len(keys) == sum(len(plan["api_keys"]) for plan in plans)
    assert len(dev_synth.resources("AWS::ApiGateway::UsagePlanKey")) == len(keys)


def test_given_the_one_usage_plans_loader_when_synthesized_then_aws_deploys_the_plans_the_local_gateway_enforces(
    dev_synth,
):
    # Given the loader (and schema) the local gateway reads the usage plans with
    from infra import api
    from shared.api import usage_plans
    from tooling.local import gateway

    assert api.load_usage_plans is usage_plans.load_usage_plans is gateway.load_usage_plans
    plans = usage_plans.load_usage_plans().usage_plans
    # Then the stack deployed exactly those plans, throttles, quotas and keys
    deployed = {
        p["Properties"]["UsagePlanName"].removeprefix("ticketguard-dev-"): p["Properties"]
        for p in dev_synth.resources("AWS::ApiGateway::UsagePlan").values()
    }
    assert set(deployed) == {plan.name for plan in plans}
    for plan in plans:
        props = deployed[plan.name]
        assert props["Throttle"] == {
            "RateLimit": plan.throttle.rate_limit,
            "BurstLimit": plan.throttle.burst_limit,
        }
        quota = {"Limit": plan.quota.limit, "Period": plan.quota.period} if plan.quota else None
        assert props.get("Quota") == quota
    keys = {k["Properties"]["Name"] for k in dev_synth.resources("AWS::ApiGateway::ApiKey").values()}
    assert keys == {f"ticketguard-dev-{key.name}" for plan in plans for key in plan.api_keys}


def test_given_the_api_functions_then_api_gateway_may_invoke_them_on_their_route_only(dev_synth):
    permissions = dev_synth.resources("AWS::Lambda::Permission", stack="Service")
    api_permissions = [
        p["Properties"]
        for p in permissions.values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    routes = {json.dumps(p["SourceArn"]).split('"/dev/')[-1].split('"')[0] for p in api_permissions}
    assert routes == {
        "POST/api/v1/ml/predict/fraud",
        "GET/api/v1/metrics",
        "GET/health",
        "GET/health/details",
        "GET/api/v1/events/batches/{batch_id}",
        *(f"{op.method}{op.path}" for op in ADMIN_OPERATIONS),
        "GET/admin/monitoring",
        "GET/admin/monitoring/assets/{name}",
        "GET/api/v1/admin/monitoring/live",
        "GET/api/v1/admin/monitoring/aggregates",
        "POST/api/v1/pricing/assignments",
        "GET/api/v1/pricing/experiment",
    }


def _deployment_id(document: dict, monkeypatch) -> str:
    from aws_cdk import App, Stack
    from aws_cdk import aws_cognito as cognito
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    import infra.api
    from infra.config import load_environment
    from tests.fixtures.infra import cdk_context

    monkeypatch.setattr(infra.api, "load_document", lambda: document)
    stack = Stack(App(), "Probe", env={"region": "eu-west-1"})
    functions = {
        name: lambda_.Function.from_function_arn(
            stack, name, f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
        )
        for name in ("score", "metrics", "health")
    }
    infra.api.RestApi(
        stack,
        "Api",
        config=load_environment(cdk_context()["environments"], "dev"),
        functions=functions,
        user_pool=cognito.UserPool(stack, "Pool"),
        key=kms.Key(stack, "Key"),
    )
    [deployment] = Template.from_stack(stack).find_resources("AWS::ApiGateway::Deployment")
    return deployment


def test_given_a_change_in_the_document_when_synthesized_then_the_stage_gets_a_new_deployment(monkeypatch):
    document = load_document()
    before = _deployment_id(document, monkeypatch)
    document["components"]["schemas"]["PredictRequest"]["properties"]["price_paid"]["maximum"] = 999
    assert _deployment_id(document, monkeypatch) != before


def _refs(value) -> set[str]:
    """The logical ids a CloudFormation value refers to (Ref, Fn::GetAtt), at any depth."""
    if isinstance(value, dict):
        found = {value["Ref"]} if isinstance(value.get("Ref"), str) else set()
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
        return found | {ref for item in value.values() for ref in _refs(item)}
    if isinstance(value, list):
        return {ref for item in value for ref in _refs(item)}
    return set()


def _allowed_key_names(dev_synth, function: str) -> set[str]:
    """The names of the API keys in a function's TG_ALLOWED_API_KEY_IDS."""
    from aws_cdk.assertions import Template

    from infra.functions import spec

    template = Template.from_json(dev_synth.stack("Service"))
    keys = template.find_resources("AWS::ApiGateway::ApiKey")
    [fn] = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Description": spec(function).description}}
    ).values()
    value = fn["Properties"]["Environment"]["Variables"][ALLOWED_API_KEY_IDS_ENV]
    referenced = _refs(value)
    assert referenced <= set(keys), f"{ALLOWED_API_KEY_IDS_ENV} of {function} refers to more than API keys"
    prefix = f"ticketguard-{dev_synth.config.name}-"
    return {keys[ref]["Properties"]["Name"].removeprefix(prefix) for ref in referenced}


def test_given_the_usage_plans_when_synthesized_then_the_scoring_function_admits_the_marketplace_key_only(
    dev_synth,
):
    assert _allowed_key_names(dev_synth, "score") == {"marketplace-backend"}


def test_given_the_usage_plans_when_synthesized_then_metrics_and_health_admit_both_keys(dev_synth):
    assert _allowed_key_names(dev_synth, "metrics") == {"marketplace-backend", "dashboard"}
    assert _allowed_key_names(dev_synth, "health") == {"marketplace-backend", "dashboard"}


def _cycle(resources: dict) -> list[str] | None:
    """A dependency cycle among a template's resources (Ref, Fn::GetAtt, DependsOn), if any."""
    edges = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        depends_on = [depends_on] if isinstance(depends_on, str) else depends_on
        edges[logical_id] = (_refs(resource.get("Properties", {})) | set(depends_on)) & set(resources)
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        if state.get(node) == "open":
            return [*path, node]
        if state.get(node) == "done":
            return None
        state[node] = "open"
        for target in sorted(edges[node]):
            found = visit(target, [*path, node])
            if found:
                return found
        state[node] = "done"
        return None

    for logical_id in resources:
        found = visit(logical_id, [])
        if found:
            return found
    return None


def test_given_the_keys_in_function_environments_when_synthesized_then_no_template_has_a_dependency_cycle(
    dev_synth,
):
    # CloudFormation refuses a cycle only at deploy; cdk synth does not see one inside a stack.
    for name, template in dev_synth.templates.items():
        cycle = _cycle(template.get("Resources", {}))
        assert cycle is None, f"{name}: " + " -> ".join(cycle or [])


def test_given_a_plan_naming_an_unknown_operation_when_scoped_then_synthesis_stops_naming_it():
    plans = [_plan("p", ["predictFraud", "dropTables"])]
    with pytest.raises(ValueError, match="usage plan p: dropTables"):
        key_scopes(load_document(), plans)


def test_given_a_function_serving_operations_open_to_different_keys_when_scoped_then_synthesis_stops():
    document = load_document()
    document["paths"]["/api/v1/metrics"]["get"][FUNCTION_EXTENSION] = "score"
    plans = [_plan("a", ["predictFraud", "getMetrics"]), _plan("b", ["getMetrics"])]
    with pytest.raises(ValueError, match="give one of them a function of its own"):
        key_scopes(document, plans)


def _queued_ingest_integration() -> dict:
    queue = QueueIntegration(
        queue_name="ingest-q", account="123456789012", role_arn="arn:role", allowed_api_key_ids="k1,k2"
    )
    body, undeployed = gateway_document(
        load_document(),
        function_arns=ARNS,
        region="eu-west-1",
        partition="aws",
        user_pool_arn="arn:pool",
        queues={"ingest": queue},
    )
    assert undeployed == []
    return body["paths"]["/api/v1/events"]["post"]["x-amazon-apigateway-integration"]


def test_given_the_ingest_queue_when_completed_then_post_events_sends_the_body_to_sqs_with_its_attributes():
    integration = _queued_ingest_integration()
    # Then API Gateway calls SQS SendMessage itself, with a role of its own; no function in front
    assert integration["type"] == "aws"
    assert integration["uri"] == "arn:aws:apigateway:eu-west-1:sqs:path/123456789012/ingest-q"
    assert integration["credentials"] == "arn:role"
    assert integration["passthroughBehavior"] == "never"  # another content type: 415
    template = integration["requestTemplates"]["application/json"]
    assert "Action=SendMessage&MessageBody=$util.urlEncode($input.body)" in template
    # one FIFO message group per API key (order), deduplicated by the request's id (retries)
    assert "MessageGroupId=$util.urlEncode($context.identity.apiKeyId)&" in template
    assert "MessageDeduplicationId=$context.requestId&" in template
    # the attributes the consumer reads (shared.ingest.consumer.message_attributes names them)
    from datetime import UTC, datetime

    from shared.ingest.consumer import message_attributes, queued_batch

    names = message_attributes(
        queued_batch("{}", batch_id="b", received_at=datetime.now(UTC), api_key_id="k")
    )
    for index, name in enumerate(names, start=1):
        assert f"MessageAttribute.{index}.Name={name}&" in template
    # the batch id the answer names is the one the message carries
    assert (
        "$context.requestId" in integration["responses"]["default"]["responseTemplates"]["application/json"]
    )
    assert integration["responses"]["default"]["statusCode"] == "202"


def test_given_the_ingest_queue_when_a_key_outside_the_plan_posts_then_no_message_is_sent_and_403():
    integration = _queued_ingest_integration()
    template = integration["requestTemplates"]["application/json"]
    # Given the plan's key ids in the template, When the key is not one of them, Then SQS gets an action
    # it refuses (nothing queued), and the refusal answers 403 for that key, 413 (size) for a plan key
    assert template.startswith('#set($allowed = ",k1,k2,")')
    assert "#else\nAction=TicketGuardApiKeyNotInPlan\n#end" in template
    refused = integration["responses"]["4\\d{2}"]["responseTemplates"]["application/json"]
    assert "responseOverride.status = 403" in refused and "responseOverride.status = 413" in refused
    assert '"code": "forbidden"' in refused and '"code": "payload_too_large"' in refused
    assert integration["responses"]["5\\d{2}"]["statusCode"] == "503"

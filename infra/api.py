"""The REST API, built from the project's one OpenAPI document (`shared/api/openapi.yaml`).

At synth a copy of the document is completed with what only the deployment knows: the Lambda
proxy integration of each operation (`x-ticketguard-function` names the function), request
validation (body and parameters), the Cognito authorizer on `/admin/*`, and gateway responses in
the project's error shape `{"error": {"code", "message"}}` from the document's own table of them
(`x-ticketguard-gateway-responses`, which the local gateway answers from too). The file itself stays
the single source.
Usage plans and API keys come from `shared/api/usage_plans.yaml`, read by its one loader and schema
(`shared/api/usage_plans.py`, which the local gateway uses too).

A usage plan covers the whole stage: API Gateway cannot keep a key to some of its methods. So each
plan lists its operations, and each API function gets the ids of the keys allowed on its operations
(`allowed_api_key_ids`, turned into TG_ALLOWED_API_KEY_IDS by the stack) and refuses the others
(shared/api/access.py). The keys are made without stage keys (a usage plan key attaches them to the
stage): with StageKeys, function -> key -> stage -> API body -> function would be a dependency cycle.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Annotations, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.ingest import QueueIntegration
from infra.ingest import integration as queue_integration
from infra.log_groups import encrypted_log_group
from infra.nag import acknowledge
from shared.api.spec import (
    ADMIN_SCHEME,
    FUNCTION_EXTENSION,
    GATEWAY_RESPONSES_EXTENSION,
    MAX_BODY_EXTENSION,
    OPENAPI_PATH,
    QUEUE_EXTENSION,
    load_openapi,
    operation_items,
    read_gateway_responses,
    requires_api_key,
)
from shared.api.usage_plans import UsagePlan, load_usage_plans

ADMIN_PREFIX = "/admin/"
# Every path with an /admin/ segment is an admin path (the page under /admin/, the API under
# /api/v1/admin/): the Cognito authorizer, the resource policy's admin networks and WAF's rule hold for all.
ADMIN_SEGMENT = "/admin/"
# /admin/ operations that declare `security: []`: the monitoring page's HTML shell and its files, which
# hold no data (a browser's navigation carries no token; the page's data routes need the admin token).
# The resource policy still keeps them to the admin networks. Any other /admin/ operation gets the
# Cognito authorizer, and declaring one public outside this list fails the synth.
PUBLIC_ADMIN_OPERATIONS = frozenset({"getMonitoringPage", "getMonitoringAsset"})
VALIDATOR = "body_and_parameters"


def load_document() -> dict[str, Any]:
    """A copy of the OpenAPI document (shared.api.spec reads it), to complete for API Gateway."""
    document = copy.deepcopy(load_openapi())
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.0"):
        raise ValueError(f"{OPENAPI_PATH}: API Gateway imports OpenAPI 3.0.x documents only")
    return document


def gateway_responses(document: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """API Gateway response type -> (status, or "" for the error's own; code): the document's table of the
    gateway's own answers, less those the local gateway alone gives."""
    return {
        name: ("" if response.status is None else str(response.status), response.code)
        for name, response in read_gateway_responses(document).items()
        if not response.local_only
    }


def gateway_document(
    document: Mapping[str, Any],
    *,
    function_arns: Mapping[str, str],
    region: str,
    partition: str,
    user_pool_arn: str,
    queues: Mapping[str, QueueIntegration] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The document API Gateway imports, and the operations whose function is not deployed."""
    body = copy.deepcopy(dict(document))
    responses = gateway_responses(body)
    body.pop(GATEWAY_RESPONSES_EXTENSION)
    undeployed = []
    for path, method, operation in operation_items(body):
        function = operation.pop(FUNCTION_EXTENSION, None)
        queue = operation.pop(QUEUE_EXTENSION, None)
        # The local gateway's own body limit per operation; API Gateway has its own (10 MB).
        operation.pop(MAX_BODY_EXTENSION, None)
        if function is None and queue is None:
            raise ValueError(
                f"{method.upper()} {path} has neither {FUNCTION_EXTENSION} nor {QUEUE_EXTENSION}: what serves it?"
            )
        target = function or f"the {queue} queue"
        if queue is not None and queue in (queues or {}):
            operation["x-amazon-apigateway-integration"] = queue_integration(
                (queues or {})[queue],
                region=region,
                partition=partition,
                operation_id=operation["operationId"],
            )
        elif function in function_arns:
            operation["x-amazon-apigateway-integration"] = _lambda_integration(
                function_arns[function], region=region, partition=partition
            )
        else:
            undeployed.append(f"{method.upper()} {path} -> {target}")
            operation["x-amazon-apigateway-integration"] = _undeployed_integration(target)
        if is_admin_path(path) and not _public_admin_operation(operation):
            operation["security"] = [{ADMIN_SCHEME: []}]
    _add_gateway_extensions(body, responses, user_pool_arn)
    return body, undeployed


def _lambda_integration(function_arn: str, *, region: str, partition: str) -> dict[str, Any]:
    """The Lambda proxy integration of an operation served by a deployed function."""
    return {
        "type": "aws_proxy",
        "httpMethod": "POST",
        "passthroughBehavior": "when_no_match",
        "timeoutInMillis": 29000,
        "uri": (
            f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
        ),
    }


def is_admin_path(path: str) -> bool:
    return ADMIN_SEGMENT in path


def admin_policy_resources(document: Mapping[str, Any]) -> list[str]:
    """The resource policy's admin resources: `execute-api:/<stage>/<verb>/<path>`, one per path prefix
    that ends in /admin/ (e.g. execute-api:/*/*/api/v1/admin/*). Each is spelled out because API
    Gateway matches a `*` in the stage or verb position against that one segment: `/*/*/admin/*` covers
    /admin/... only, never /api/v1/admin/... (tests/infra/test_api.py holds every admin operation to
    these resources under both readings of `*`)."""
    prefixes = {
        path[: path.index(ADMIN_SEGMENT) + len(ADMIN_SEGMENT)]
        for path, _, _ in operation_items(document)
        if is_admin_path(path)
    }
    return [f"execute-api:/*/*{prefix}*" for prefix in sorted(prefixes)]


def _public_admin_operation(operation: Mapping[str, Any]) -> bool:
    if operation.get("security") != []:
        return False
    if operation.get("operationId") not in PUBLIC_ADMIN_OPERATIONS:
        raise ValueError(
            f"{operation.get('operationId')} declares no security under {ADMIN_PREFIX}: only "
            f"{sorted(PUBLIC_ADMIN_OPERATIONS)} may (infra/api.py PUBLIC_ADMIN_OPERATIONS)"
        )
    return True


def _undeployed_integration(target: str) -> dict[str, Any]:
    """A mock integration answering 503 in the error shape for an operation whose target is not deployed."""
    error = {"error": {"code": "dependency_unavailable", "message": f"{target} is not deployed"}}
    return {
        "type": "mock",
        "requestTemplates": {"application/json": '{"statusCode": 503}'},
        "responses": {
            "default": {"statusCode": "503", "responseTemplates": {"application/json": json.dumps(error)}}
        },
    }


def _add_gateway_extensions(
    body: dict[str, Any], responses: Mapping[str, tuple[str, str]], user_pool_arn: str
) -> None:
    """The API-wide extensions: the Cognito scheme, the key source, request validation and the gateway's
    own responses in the project's error shape."""
    components = body.setdefault("components", {})
    components.setdefault("securitySchemes", {})[ADMIN_SCHEME] = {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": [user_pool_arn]},
    }
    body["x-amazon-apigateway-api-key-source"] = "HEADER"
    body["x-amazon-apigateway-request-validators"] = {
        VALIDATOR: {"validateRequestBody": True, "validateRequestParameters": True}
    }
    body["x-amazon-apigateway-request-validator"] = VALIDATOR
    body["x-amazon-apigateway-gateway-responses"] = {
        name: {
            **({"statusCode": status} if status else {}),
            "responseTemplates": {
                "application/json": '{"error": {"code": "'
                + code
                + '", "message": $context.error.messageString}}'
            },
            "responseParameters": {"gatewayresponse.header.Content-Type": "'application/json'"},
        }
        for name, (status, code) in responses.items()
    }


def served_by(operation: Mapping[str, Any]) -> str | None:
    """The function that serves an operation, or `queue:<name>` for one the gateway sends to a queue."""
    queue = operation.get(QUEUE_EXTENSION)
    return f"queue:{queue}" if queue else operation.get(FUNCTION_EXTENSION)


def key_scopes(document: Mapping[str, Any], plans: Sequence[UsagePlan]) -> dict[str, list[str]]:
    """Function -> names of the API keys whose plan lists its operations that require a key. One
    function holds one list, so its keyed operations must admit the same keys (else: a function of
    its own for one of them)."""
    keyed = {
        operation.get("operationId"): (function, f"{method.upper()} {path}")
        for path, method, operation in operation_items(document)
        if requires_api_key(document, operation) and (function := served_by(operation)) is not None
    }
    for plan in plans:
        for listed in plan.operations:
            if listed not in keyed:
                raise ValueError(
                    f"usage plan {plan.name}: {listed} is not an operation that requires an API key"
                )
    scopes: dict[str, list[str]] = {}
    first_route: dict[str, str] = {}
    for operation_id, (function, route) in keyed.items():
        names = sorted(key.name for plan in plans if operation_id in plan.operations for key in plan.api_keys)
        if function in scopes and scopes[function] != names:
            raise ValueError(
                f"{function} serves {first_route[function]} and {route}, open to different API keys: "
                "give one of them a function of its own"
            )
        scopes[function], first_route[function] = names, first_route.get(function, route)
    return scopes


def access_log_group_name(environment: str) -> str:
    """Fixed, so that the monitoring stack's dashboard names it without a cross-stack export."""
    return f"/aws/apigateway/ticketguard-{environment}-access"


class RestApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        functions: Mapping[str, lambda_.IFunction],
        user_pool: cognito.IUserPool,
        key: kms.IKey,
        queues: Mapping[str, QueueIntegration] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        document = load_document()
        self.access_logs = encrypted_log_group(
            self, "AccessLogs", key=key, log_group_name=access_log_group_name(config.name)
        )
        self.api = self._build_api(config, document, functions, user_pool, queues)
        self._build_permissions(config.name, document, functions)
        plans = load_usage_plans().usage_plans
        self._build_usage_plans(config, plans)
        self._allow_keys(document, plans, functions, queues)
        self._acknowledge(config)

    def _build_api(
        self,
        config: EnvironmentConfig,
        document: Mapping[str, Any],
        functions: Mapping[str, lambda_.IFunction],
        user_pool: cognito.IUserPool,
        queues: Mapping[str, QueueIntegration] | None,
    ) -> apigw.SpecRestApi:
        """The API from the completed document; a warning per route whose target is not deployed."""
        stack = Stack.of(self)
        body, undeployed = gateway_document(
            document,
            function_arns={name: fn.function_arn for name, fn in functions.items()},
            region=stack.region,
            partition=stack.partition,
            user_pool_arn=user_pool.user_pool_arn,
            queues=queues,
        )
        for line in undeployed:
            Annotations.of(self).add_warning_v2(
                "ticketguard:undeployed-route", f"{line}: answers 503 until deployed"
            )
        return apigw.SpecRestApi(
            self,
            "Api",
            rest_api_name=f"ticketguard-{config.name}",
            description="TicketGuard fraud scoring, KPIs and health",
            api_definition=apigw.ApiDefinition.from_inline(body),
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The account's API Gateway logging role: made by one environment per account (config), and
            # kept when that stack is deleted, so that another environment's execution logging goes on.
            cloud_watch_role=config.api_gateway_account_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if config.api_gateway_account_role else None,
            policy=self._resource_policy(config, admin_policy_resources(document)),
            deploy_options=self._stage_options(config),
        )

    def _stage_options(self, config: EnvironmentConfig) -> apigw.StageOptions:
        """The stage: tracing, metrics, error logging, JSON access logs and the stage-wide throttle."""
        return apigw.StageOptions(
            stage_name=config.name,
            tracing_enabled=True,
            metrics_enabled=True,
            logging_level=apigw.MethodLoggingLevel.ERROR,
            data_trace_enabled=False,  # request bodies hold wallets: never in execution logs
            access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
            access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                caller=False,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=False,
            ),
            throttling_rate_limit=config.api.stage_rate_per_second,
            throttling_burst_limit=config.api.stage_burst,
        )

    def _build_permissions(
        self, stage_name: str, document: Mapping[str, Any], functions: Mapping[str, lambda_.IFunction]
    ) -> None:
        """API Gateway may invoke each deployed function, on its own operations only."""
        for path, method, operation in operation_items(document):
            function = functions.get(operation.get(FUNCTION_EXTENSION, ""))
            if function is not None:
                lambda_.CfnPermission(
                    self,
                    f"Invoke{operation.get('operationId', method + path).replace('/', '_')}",
                    action="lambda:InvokeFunction",
                    function_name=function.function_arn,
                    principal="apigateway.amazonaws.com",
                    source_arn=self.api.arn_for_execute_api(method.upper(), path, stage_name),
                )

    def _build_usage_plans(self, config: EnvironmentConfig, plans: Sequence[UsagePlan]) -> None:
        """A usage plan per configured plan, and its API keys (without stage keys: the module's docstring)."""
        self.api_keys: dict[str, apigw.IApiKey] = {}
        self.usage_plans: dict[str, apigw.UsagePlan] = {}
        for plan_config in plans:
            quota = plan_config.quota
            plan = self.api.add_usage_plan(
                f"Plan-{plan_config.name}",
                name=f"ticketguard-{config.name}-{plan_config.name}",
                description=plan_config.description or None,
                throttle=apigw.ThrottleSettings(
                    rate_limit=plan_config.throttle.rate_limit, burst_limit=plan_config.throttle.burst_limit
                ),
                quota=apigw.QuotaSettings(limit=quota.limit, period=apigw.Period[quota.period])
                if quota
                else None,
                api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
            )
            for key_config in plan_config.api_keys:
                # Not api.add_api_key(): it would give the key StageKeys (see the module's docstring).
                api_key = apigw.ApiKey(
                    self.api,
                    f"Key-{key_config.name}",
                    api_key_name=f"ticketguard-{config.name}-{key_config.name}",
                    description=f"{plan_config.name} usage plan",
                )
                plan.add_api_key(api_key)
                self.api_keys[key_config.name] = api_key
            self.usage_plans[plan_config.name] = plan

    def _allow_keys(
        self,
        document: Mapping[str, Any],
        plans: Sequence[UsagePlan],
        functions: Mapping[str, lambda_.IFunction],
        queues: Mapping[str, QueueIntegration] | None,
    ) -> None:
        """Function -> ids of the API keys its keyed operations admit (the stack puts them in the function's
        environment: shared.api.access.ALLOWED_API_KEY_IDS_ENV); a queued operation's go into its request template."""
        self.allowed_api_key_ids: dict[str, list[str]] = {}
        for target, names in key_scopes(document, plans).items():
            key_ids = [self.api_keys[name].key_id for name in names]
            queue = (queues or {}).get(target.removeprefix("queue:"))
            if target.startswith("queue:") and queue is not None:
                queue.api_key_ids[:] = key_ids
            elif target in functions:
                self.allowed_api_key_ids[target] = key_ids

    def _acknowledge(self, config: EnvironmentConfig) -> None:
        acknowledge(
            self.api,
            "AwsSolutions-APIG2",
            "Request validation is declared in the imported OpenAPI body "
            "(x-amazon-apigateway-request-validators, body and parameters), which cdk-nag cannot see.",
        )
        if config.api_gateway_account_role:
            acknowledge(
                self.api,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                "The account-level API Gateway logging role needs exactly this AWS-managed policy.",
            )

    @staticmethod
    def _resource_policy(config: EnvironmentConfig, admin_resources: list[str]) -> iam.PolicyDocument:
        invoke_all = iam.PolicyStatement(
            sid="InvokeAll",
            effect=iam.Effect.ALLOW,
            principals=[iam.AnyPrincipal()],
            actions=["execute-api:Invoke"],
            resources=["execute-api:/*"],
        )
        # Spec threat 4: admin routes answer only from the corporate VPN ranges (WAF enforces it too).
        admin_only_from_vpn = iam.PolicyStatement(
            sid="AdminOnlyFromAdminCidrs",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["execute-api:Invoke"],
            resources=admin_resources,
            conditions={"NotIpAddress": {"aws:SourceIp": list(config.admin_cidrs)}},
        )
        return iam.PolicyDocument(statements=[invoke_all, admin_only_from_vpn])

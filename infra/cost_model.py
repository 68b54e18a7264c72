"""The cost model of `infra/cost_report.py`: one month of each resource of the synthesized templates,
as lines (what was counted, what it costs), from `Traffic` and the unit prices of infra/cost_prices.py.

Every resource type of the templates is either priced by a line (`Line.types`) or listed in
FREE_TYPES (infra/cost_resources.py) with the reason it costs nothing by itself; `unpriced_types` names
the others. The schedules' runs a month come from infra/cost_schedules.py.
"""

from __future__ import annotations

import json

from infra.cost_prices import (
    CODEBUILD_MINUTE,
    DAYS_PER_MONTH,
    ELASTICACHE_NODE_HOUR,
    HOURS_PER_MONTH,
    PRICES,
    RDS_INSTANCE_HOUR,
    RDS_VCPUS,
    Traffic,
)
from infra.cost_resources import FREE_TYPES, Line, Templates, is_free, resource_types, resources
from infra.cost_schedules import fires_per_month, scheduled_runs

# ---------------------------------------------------------------- the lines


def _functions(templates: Templates) -> dict[str, tuple[str, dict]]:
    """Catalog name (or logical id) -> (logical id, properties) of every Lambda function."""
    from infra.functions import CATALOG

    by_description = {item.description: item.name for item in CATALOG}
    return {
        by_description.get(props.get("Description", ""), logical_id): (logical_id, props)
        for logical_id, props, _ in resources(templates, "AWS::Lambda::Function")
    }


def _lambda_lines(templates: Templates, traffic: Traffic) -> list[Line]:
    runs = scheduled_runs(templates)
    # Each state machine's definition, with the runs its schedule starts (its steps run once a run).
    definitions = [
        (json.dumps(props.get("DefinitionString", props.get("Definition", ""))), runs.get(lid, 0.0))
        for lid, props, _ in resources(templates, "AWS::StepFunctions::StateMachine")
    ]
    api_requests = traffic.api_requests_per_day * DAYS_PER_MONTH
    gb_seconds = {"arm64": 0.0, "x86_64": 0.0}
    invocations = 0.0
    for name, (logical_id, props) in _functions(templates).items():
        if name == "score":
            count, seconds = api_requests, traffic.score_billed_ms / 1000
        elif name == "pricing":
            count, seconds = (
                traffic.pricing_requests_per_day * DAYS_PER_MONTH,
                traffic.pricing_billed_ms / 1000,
            )
        elif logical_id in runs:
            count, seconds = runs[logical_id], traffic.seconds_of(name)
        elif steps := [machine_runs for text, machine_runs in definitions if logical_id in text]:
            count, seconds = sum(steps), traffic.seconds_of(name)  # a step of a scheduled state machine
        else:  # API functions besides scoring, custom resources, rotation: no steady traffic
            continue
        architecture = (props.get("Architectures") or ["x86_64"])[0]
        gb_seconds[architecture] += count * seconds * props.get("MemorySize", 128) / 1024
        invocations += count
    compute = sum(gb * PRICES[f"lambda_{arch}_gb_second"] for arch, gb in gb_seconds.items())
    requests = invocations / 1e6 * PRICES["lambda_requests_million"]
    total_gbs = sum(gb_seconds.values())
    return [
        *_provisioned_lines(templates),
        Line(
            "lambda",
            "Lambda",
            f"{invocations / 1e6:.1f} M invocations, {total_gbs / 1e6:.2f} M GB-s",
            compute + requests,
            ("AWS::Lambda::Function",),
        ),
    ]


def _provisioned_lines(templates: Templates) -> list[Line]:
    """The scoring alias' provisioned concurrency: its minimum capacity all month (what it scales to above
    that, on latency, is priced by the hour it lasts; not counted here)."""
    targets = [props for _, props, _ in resources(templates, "AWS::ApplicationAutoScaling::ScalableTarget")]
    if not targets:
        return []
    score = _functions(templates).get("score")
    memory_gb = (score[1].get("MemorySize", 128) if score else 128) / 1024
    architecture = ((score[1].get("Architectures") if score else None) or ["x86_64"])[0]
    minimum = sum(int(props.get("MinCapacity", 0)) for props in targets)
    maximum = sum(int(props.get("MaxCapacity", 0)) for props in targets)
    cost = (
        minimum * memory_gb * HOURS_PER_MONTH * 3600 * PRICES[f"lambda_provisioned_{architecture}_gb_second"]
    )
    return [
        Line(
            "provisioned",
            "Lambda provisioned concurrency",
            f"scoring alias: {minimum} to {maximum} instances, scaled on p95 latency (the minimum priced)",
            cost,
            ("AWS::ApplicationAutoScaling::ScalableTarget",),
        )
    ]


def _network_lines(templates: Templates, traffic: Traffic) -> list[Line]:
    lines = []
    nat = len(list(resources(templates, "AWS::EC2::NatGateway")))
    eips = len(list(resources(templates, "AWS::EC2::EIP")))
    if nat or eips:
        cost = nat * (
            HOURS_PER_MONTH * PRICES["nat_gateway_hour"] + traffic.nat_gb * PRICES["nat_gateway_gb"]
        )
        cost += eips * HOURS_PER_MONTH * PRICES["public_ipv4_hour"]
        what = f"{nat} NAT, {eips} public IPv4, {traffic.nat_gb:.0f} GB"
        lines.append(Line("nat", "NAT gateway", what, cost, ("AWS::EC2::NatGateway", "AWS::EC2::EIP")))
    endpoint_azs = [
        len(props.get("SubnetIds", []))
        for _, props, _ in resources(templates, "AWS::EC2::VPCEndpoint")
        if props.get("VpcEndpointType") == "Interface"
    ]
    if endpoint_azs:
        cost = sum(endpoint_azs) * HOURS_PER_MONTH * PRICES["interface_endpoint_az_hour"]
        lines.append(
            Line(
                "endpoints",
                "VPC endpoints",
                f"{len(endpoint_azs)} interface x {max(endpoint_azs)} AZs (S3 gateway: free)",
                cost,
                ("AWS::EC2::VPCEndpoint",),
            )
        )
    return lines


def _data_lines(templates: Templates, traffic: Traffic) -> list[Line]:
    lines = []
    for _, props, _ in resources(templates, "AWS::RDS::DBInstance"):
        klass, copies = props["DBInstanceClass"], 2 if props.get("MultiAZ") else 1
        storage = float(props.get("AllocatedStorage", 20))
        cost = copies * (HOURS_PER_MONTH * RDS_INSTANCE_HOUR[klass] + storage * PRICES["rds_gp3_gb_month"])
        az = "Multi-AZ" if copies == 2 else "Single-AZ"
        lines.append(
            Line(
                "rds",
                "RDS PostgreSQL",
                f"{klass} {az}, {storage:.0f} GB",
                cost,
                ("AWS::RDS::DBInstance",),
            )
        )
        for _ in resources(templates, "AWS::RDS::DBProxy"):
            vcpus = max(2, RDS_VCPUS[klass])
            cost = vcpus * HOURS_PER_MONTH * PRICES["rds_proxy_vcpu_hour"]
            lines.append(
                Line("rds_proxy", "RDS Proxy", f"{vcpus} vCPUs of {klass}", cost, ("AWS::RDS::DBProxy",))
            )
    for _, props, _ in resources(templates, "AWS::ElastiCache::ReplicationGroup"):
        nodes, node_type = int(props.get("NumCacheClusters", 1)), props["CacheNodeType"]
        cost = nodes * HOURS_PER_MONTH * ELASTICACHE_NODE_HOUR[node_type]
        lines.append(
            Line(
                "elasticache",
                "ElastiCache Redis",
                f"{nodes} x {node_type}",
                cost,
                ("AWS::ElastiCache::ReplicationGroup",),
            )
        )
    buckets = len(list(resources(templates, "AWS::S3::Bucket")))
    if buckets:
        cost = traffic.archive_gb * PRICES["s3_standard_gb_month"]
        lines.append(
            Line(
                "s3",
                "S3",
                f"{buckets} buckets, ~{traffic.archive_gb:.0f} GB",
                cost,
                ("AWS::S3::Bucket",),
            )
        )
    return lines


def _edge_lines(templates: Templates, traffic: Traffic) -> list[Line]:
    lines = []
    requests = traffic.gateway_requests_per_day * DAYS_PER_MONTH / 1e6
    if list(resources(templates, "AWS::ApiGateway::RestApi")):
        cost = requests * PRICES["apigw_rest_requests_million"]
        lines.append(
            Line(
                "apigw",
                "API Gateway (REST)",
                f"{requests:.1f} M requests",
                cost,
                ("AWS::ApiGateway::RestApi",),
            )
        )
    for _, props, _ in resources(templates, "AWS::WAFv2::WebACL"):
        rules = len(props.get("Rules", []))
        fixed = PRICES["waf_web_acl_month"] + rules * PRICES["waf_rule_month"]
        types = ("AWS::WAFv2::WebACL",)
        lines.append(Line("waf", "WAF web ACL", f"1 web ACL, {rules} rules", fixed, types))
        cost = requests * PRICES["waf_requests_million"]
        lines.append(Line("waf_requests", "WAF requests", f"{requests:.1f} M requests", cost, types))
    pools = len(list(resources(templates, "AWS::Cognito::UserPool")))
    if pools:
        cost = pools * traffic.admins * PRICES["cognito_plus_mau"]
        lines.append(
            Line(
                "cognito",
                "Cognito (Plus)",
                f"{traffic.admins} admins a month",
                cost,
                ("AWS::Cognito::UserPool",),
            )
        )
    return lines


def _observability_lines(templates: Templates, traffic: Traffic) -> list[Line]:
    from infra.metrics_catalogue import load_catalogue

    requests = traffic.gateway_requests_per_day * DAYS_PER_MONTH
    ingested = requests * (traffic.lambda_log_bytes_per_request + traffic.access_log_bytes_per_request) / 1e9
    if list(resources(templates, "AWS::WAFv2::LoggingConfiguration")):
        ingested += requests * traffic.waf_log_bytes_per_request / 1e9
    if list(resources(templates, "AWS::EC2::FlowLog")):
        ingested += traffic.flow_log_gb
    groups = len(list(resources(templates, "AWS::Logs::LogGroup")))
    logs = ingested * (PRICES["logs_ingest_gb"] + traffic.logs_compression * PRICES["logs_storage_gb_month"])
    alarms = sum(
        max(1, len(props.get("Metrics", [])) - 1)
        for _, props, _ in resources(templates, "AWS::CloudWatch::Alarm")
    )
    composites = len(list(resources(templates, "AWS::CloudWatch::CompositeAlarm")))
    dashboards = len(list(resources(templates, "AWS::CloudWatch::Dashboard")))
    metrics = len(load_catalogue().metrics)
    sampled = min(
        requests,
        traffic.xray_reservoir_per_s * HOURS_PER_MONTH * 3600
        + traffic.xray_rate * max(0.0, requests - traffic.xray_reservoir_per_s * HOURS_PER_MONTH * 3600),
    )
    return [
        Line(
            "logs",
            "CloudWatch Logs",
            f"{ingested:.0f} GB into {groups} groups, kept 30 days",
            logs,
            ("AWS::Logs::LogGroup", "AWS::WAFv2::LoggingConfiguration", "AWS::EC2::FlowLog"),
        ),
        Line(
            "metrics",
            "CloudWatch metrics, alarms, dashboards",
            f"{metrics} custom metrics, {alarms} alarms, {composites} composite alarms, {dashboards} dashboard",
            metrics * PRICES["metric_month"]
            + alarms * PRICES["alarm_month"]
            + composites * PRICES["composite_alarm_month"]
            + dashboards * PRICES["dashboard_month"],
            ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm", "AWS::CloudWatch::Dashboard"),
        ),
        Line(
            "xray",
            "X-Ray",
            f"{sampled / 1e6:.1f} M traces",
            sampled / 1e6 * PRICES["xray_traces_million"],
            (),
        ),
    ]


def _small_lines(templates: Templates, traffic: Traffic) -> list[Line]:
    secrets = len(list(resources(templates, "AWS::SecretsManager::Secret")))
    keys = len(list(resources(templates, "AWS::KMS::Key")))
    lines = [
        Line(
            "secrets",
            "Secrets Manager",
            f"{secrets} secrets, {traffic.secrets_api_calls / 1e3:.0f} k calls",
            secrets * PRICES["secret_month"] + traffic.secrets_api_calls / 1e4 * PRICES["secrets_api_10k"],
            ("AWS::SecretsManager::Secret",),
        ),
        Line(
            "kms",
            "KMS",
            f"{keys} customer keys, {traffic.kms_requests / 1e3:.0f} k requests",
            keys * PRICES["kms_key_month"] + traffic.kms_requests / 1e4 * PRICES["kms_requests_10k"],
            ("AWS::KMS::Key",),
        ),
    ]
    queues, topics = (len(list(resources(templates, t))) for t in ("AWS::SQS::Queue", "AWS::SNS::Topic"))
    lines.append(
        Line(
            "messaging",
            "SQS, SNS",
            f"{queues} queue{'s' if queues != 1 else ''}, {topics} topics",
            queues * 0.1 * PRICES["sqs_requests_million"],
            ("AWS::SQS::Queue", "AWS::SNS::Topic"),
        )
    )
    runs = scheduled_runs(templates)
    machine_runs = sum(
        runs.get(lid, 0.0) for lid, _, _ in resources(templates, "AWS::StepFunctions::StateMachine")
    )
    if machine_runs:  # the retraining pipeline, retention's rounds
        lines.append(
            Line(
                "retrain",
                "Step Functions",
                f"{machine_runs:.1f} runs",
                machine_runs
                * traffic.stepfunctions_transitions_per_run
                / 1e3
                * PRICES["stepfunctions_transitions_1k"],
                ("AWS::StepFunctions::StateMachine",),
            )
        )
    for _, props, _ in resources(templates, "AWS::CodeBuild::Project"):
        environment = props.get("Environment", {})
        per_minute = CODEBUILD_MINUTE[(environment.get("Type", ""), environment.get("ComputeType", ""))]
        minutes = traffic.retrain_runs_per_month * traffic.retrain_build_minutes
        lines.append(
            Line(
                "retrain",
                "CodeBuild (training)",
                f"{minutes:.0f} min {environment.get('ComputeType')}",
                minutes * per_minute,
                ("AWS::CodeBuild::Project",),
            )
        )
    return lines


def monthly_costs(templates: Templates, traffic: Traffic | None = None) -> list[Line]:
    """The month's lines for one environment's templates, biggest first."""
    traffic = traffic or Traffic()
    lines = [
        *_network_lines(templates, traffic),
        *_data_lines(templates, traffic),
        *_lambda_lines(templates, traffic),
        *_edge_lines(templates, traffic),
        *_observability_lines(templates, traffic),
        *_small_lines(templates, traffic),
    ]
    return sorted(lines, key=lambda line: -line.monthly)


def unpriced_types(templates: Templates, lines: list[Line]) -> set[str]:
    """Resource types of the templates that neither a line prices nor FREE_TYPES explains."""
    priced = {t for line in lines for t in line.types}
    return {t for t in resource_types(templates) if t not in priced and not is_free(t)}


__all__ = [
    "FREE_TYPES",
    "Line",
    "Templates",
    "fires_per_month",
    "monthly_costs",
    "resource_types",
    "unpriced_types",
]

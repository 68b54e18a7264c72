"""The unit prices and the traffic that `infra/cost_report.py` prices the templates with.

PRICES are AWS list prices for eu-west-1 (Ireland, the region of both environments in cdk.json),
on-demand, without free tier, savings plans or reservations, as written down by hand in 2025 from
the public pricing pages: they are not fetched, and they are approximate (a few percent either way).
Check them against the AWS Pricing Calculator before a budget decision; change them here, in one place.

TRAFFIC is the spec's (sprint3-solution.md 7.2: 1.2 M API requests a day; 1.3: up to 200 k events a
day); the per-request figures (duration, log bytes) are this project's estimates, named as such.
"""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
REGION = "eu-west-1"

PRICES: dict[str, float] = {
    # VPC
    "nat_gateway_hour": 0.048,
    "nat_gateway_gb": 0.048,
    "public_ipv4_hour": 0.005,  # the NAT gateway's Elastic IP (public IPv4 charge since 2024)
    "interface_endpoint_az_hour": 0.011,  # per endpoint per AZ; gateway endpoints (S3) are free
    # RDS for PostgreSQL, Single-AZ per hour (Multi-AZ: twice), gp3 per GB-month (Multi-AZ: twice)
    "rds_gp3_gb_month": 0.127,
    "rds_proxy_vcpu_hour": 0.0165,  # per vCPU of the instance behind it, at least 2
    # Lambda (arm64 is 20 % under x86_64), API Gateway REST, WAF
    "lambda_arm64_gb_second": 0.0000133334,
    "lambda_x86_64_gb_second": 0.0000166667,
    "lambda_requests_million": 0.20,
    # provisioned concurrency, per GB-second provisioned (the scoring alias, issue 27)
    "lambda_provisioned_arm64_gb_second": 0.0000033334,
    "lambda_provisioned_x86_64_gb_second": 0.0000041667,
    "apigw_rest_requests_million": 3.50,
    "waf_web_acl_month": 5.00,
    "waf_rule_month": 1.00,  # each rule, a managed rule group counting as one
    "waf_requests_million": 0.60,
    # CloudWatch, X-Ray
    "logs_ingest_gb": 0.57,  # standard and vended (WAF, VPC flow logs, Cognito) first tier alike
    "logs_storage_gb_month": 0.03,  # on the compressed size
    "metric_month": 0.30,  # custom metrics (EMF, metric filters): per metric name x dimensions
    "alarm_month": 0.10,  # standard resolution; a metric-math alarm counts per metric it reads
    "composite_alarm_month": 0.50,  # a composite alarm (issue 27: one page per outage)
    "dashboard_month": 3.00,
    "xray_traces_million": 5.00,
    # Secrets Manager, KMS, Cognito, S3, CodeBuild, Step Functions, SQS/SNS
    "secret_month": 0.40,
    "secrets_api_10k": 0.05,
    "kms_key_month": 1.00,
    "kms_requests_10k": 0.03,
    "cognito_plus_mau": 0.02,
    "s3_standard_gb_month": 0.023,
    "stepfunctions_transitions_1k": 0.025,
    "sqs_requests_million": 0.40,
}
RDS_INSTANCE_HOUR: dict[str, float] = {
    "db.t4g.micro": 0.018,
    "db.t4g.small": 0.036,
    "db.t4g.medium": 0.072,
    "db.t4g.large": 0.144,
    "db.m7g.large": 0.185,
    "db.m7g.xlarge": 0.370,
    "db.r7g.large": 0.265,
}
RDS_VCPUS: dict[str, int] = {
    "db.t4g.micro": 2,
    "db.t4g.small": 2,
    "db.t4g.medium": 2,
    "db.t4g.large": 2,
    "db.m7g.large": 2,
    "db.m7g.xlarge": 4,
    "db.r7g.large": 2,
}
ELASTICACHE_NODE_HOUR: dict[str, float] = {
    "cache.t4g.micro": 0.0176,
    "cache.t4g.small": 0.035,
    "cache.t4g.medium": 0.070,
    "cache.m7g.large": 0.176,
    "cache.r7g.large": 0.240,
}
CODEBUILD_MINUTE: dict[tuple[str, str], float] = {
    ("ARM_CONTAINER", "BUILD_GENERAL1_SMALL"): 0.0034,
    ("ARM_CONTAINER", "BUILD_GENERAL1_LARGE"): 0.015,
    ("LINUX_CONTAINER", "BUILD_GENERAL1_SMALL"): 0.005,
    ("LINUX_CONTAINER", "BUILD_GENERAL1_MEDIUM"): 0.01,
    ("LINUX_CONTAINER", "BUILD_GENERAL1_LARGE"): 0.02,
}


@dataclass(frozen=True)
class Traffic:
    """What a month asks of the stacks. Spec figures first; the rest are estimates."""

    api_requests_per_day: int = 1_200_000  # spec 7.2
    events_per_day: int = 200_000  # spec 1.3: 50k-200k daily events (the top of the range)
    # Estimates: every API request is a scoring request (the spec's 48 ms API latency, billed in ms)
    score_billed_ms: float = 60.0
    # The pricing experiment (issue 28), an estimate: the backend asks for an event's price when a buyer
    # opens its sale page (the answer can be cached per event: the arm is sticky), 100k a day, each a
    # few indexed reads (30 ms billed). Its requests pass the gateway, WAF and logs too.
    pricing_requests_per_day: int = 100_000
    pricing_billed_ms: float = 30.0
    lambda_log_bytes_per_request: int = 1_500  # Powertools JSON line, EMF document, START/END/REPORT
    access_log_bytes_per_request: int = 400  # API Gateway JSON access log (standard fields)
    waf_log_bytes_per_request: int = 1_500  # WAF logs every request with its headers
    flow_log_gb: float = 1.0  # REJECT-only VPC flow logs
    logs_compression: float = 0.15  # stored (compressed) size / ingested size
    xray_reservoir_per_s: float = 1.0  # the default sampling rule: 1 request a second, then 5 %
    xray_rate: float = 0.05
    nat_gb: float = 5.0  # the ETL's chain RPC calls (none while chain_ingestion is off)
    secrets_api_calls: int = 300_000  # cold starts + a re-read every 5 minutes per warm container
    kms_requests: int = 500_000  # environment and secret decryption, encrypted logs and queues
    admins: int = 10  # Cognito monthly active users (the admin pool)
    archive_gb: float = 20.0  # S3 archive after the first months (spec 2.1 tiers)
    retrain_build_minutes: float = 30.0  # one training run on CodeBuild
    retrain_runs_per_month: float = 52 / 12 / 2  # bi-weekly
    stepfunctions_transitions_per_run: int = 20
    # seconds per invocation of the scheduled functions (events_per_day / 24 per hourly ETL run)
    job_seconds: tuple[tuple[str, float], ...] = (
        ("etl", 30.0),
        ("features", 30.0),
        ("refresh_views", 5.0),
        ("retention", 120.0),
        ("retrain_export", 120.0),
        ("retrain_publish", 10.0),
        ("pricing_settle", 5.0),
        # The SIEM's poll of the database sources (every minute) and the SOAR's lift job (every 5 minutes).
        ("siem", 2.0),
        ("soar", 1.0),
    )

    @property
    def gateway_requests_per_day(self) -> int:
        """Every request through API Gateway: scoring and the other routes at the spec's figure, plus
        the pricing quotes."""
        return self.api_requests_per_day + self.pricing_requests_per_day

    def seconds_of(self, function: str) -> float:
        return dict(self.job_seconds).get(function, 10.0)


# How to cut each line, for the biggest ones the report names (key -> advice).
CUTS: dict[str, str] = {
    "rds": "a 1-year reserved instance (about a third off); right-size the class from the dashboard's "
    "CPU/memory after a month (prod's Multi-AZ doubles instance and storage)",
    "elasticache": "the hot set is small (5-minute feature cache, rate-limit windows): cache.t4g.medium "
    "nodes or reserved nodes; keep two for Multi-AZ failover",
    "endpoints": "interface endpoints bill per AZ-hour: fewer AZs for the endpoints, or drop the rarely "
    "used ones (SNS, SSM, KMS serve the jobs only) and route those calls through the NAT",
    "apigw": "REST APIs cost $3.50 per million: an HTTP API is $1.00 but has no usage plans, API keys or "
    "WAF (the spec's per-key throttling would move into the function)",
    "logs": "a WAF logging filter that keeps only BLOCK/COUNT requests, the per-request INFO line at DEBUG "
    "in prod, or vended logs to S3 (about half the ingestion price)",
    "lambda": "arm64 already; trim the scoring function's memory if its p95 holds (billed GB-s scale "
    "with it), or use Compute Savings Plans",
    "nat": "no NAT where the chain is not read (chain_egress: false while chain_ingestion is off)",
    "waf": "per-request charges follow the traffic; a rule fewer saves $1",
    "xray": "a sampling rule below the default 5 %",
    "rds_proxy": "billed per vCPU of the instance; needed for the request path's pooling",
    "provisioned": "scoring_capacity.min_capacity 0 in cdk.json: nothing provisioned while p95 latency holds",
    "metrics": "the on-call alarms count per metric they read; fewer per-function alarms (errors only)",
}

__all__ = [
    "CODEBUILD_MINUTE",
    "CUTS",
    "DAYS_PER_MONTH",
    "ELASTICACHE_NODE_HOUR",
    "HOURS_PER_MONTH",
    "PRICES",
    "RDS_INSTANCE_HOUR",
    "RDS_VCPUS",
    "REGION",
    "Traffic",
]

"""The deployment's environment configuration (dev / prod), validated once at synth.

Values live in `cdk.json` under context key `environments`; `-c env=prod` picks one. Everything
that differs between environments (sizes, alarm e-mail endpoints, admin CIDRs, Lambda
architecture, limits) is here, so that the constructs hold no environment-specific literal.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.config import Settings

Architecture = Literal["arm64", "x86_64"]
# Lambda keeps this much of an account's concurrency unreserved: a reservation that would leave less
# is refused at deploy (PutFunctionConcurrency), so the synth refuses it first.
UNRESERVED_CONCURRENCY_MINIMUM = 100
# The request path's statement timeout (shared.config): the server default on RDS, as PgBouncer's
# connect_query makes it locally (RDS Proxy forwards no startup parameter and pins on SET).
REQUEST_STATEMENT_TIMEOUT_MS: int = Settings.model_fields["db_statement_timeout_ms"].default


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FunctionSizing(_Strict):
    # No defaults: every function is sized in the one table below (Lambda's own, 128 MB / 3 s, and a
    # generic 512 MB / 30 s both left a job timing out under its own statement timeout).
    memory_mb: int = Field(..., ge=128, le=10240)
    timeout_s: int = Field(..., ge=1, le=900)
    # None = no reservation (the default everywhere: a new account may have 10 concurrent executions in
    # all, and reserves nothing then). An environment reserves per function in cdk.json, checked against
    # its `account_concurrency_limit`.
    reserved_concurrency: int | None = Field(None, ge=1)


def _default_functions() -> dict[str, FunctionSizing]:
    """Every function's size, one row each (a test holds it to infra/functions.py's CATALOG, and each
    job's statement timeout, shared/db/timeouts.py, below its timeout); cdk.json overrides per environment."""
    return {
        "score": FunctionSizing(memory_mb=1024, timeout_s=10),
        "metrics": FunctionSizing(memory_mb=512, timeout_s=10),
        # A cold drift cache measures two days of features (shared/monitoring/model.py): under 29 s.
        "monitoring": FunctionSizing(memory_mb=1024, timeout_s=28),
        "health": FunctionSizing(memory_mb=256, timeout_s=5),
        "etl": FunctionSizing(memory_mb=1024, timeout_s=900),
        "features": FunctionSizing(memory_mb=1024, timeout_s=900),
        "refresh_views": FunctionSizing(memory_mb=256, timeout_s=240),
        # The retraining pipeline's Lambda steps (training itself runs on CodeBuild: infra/retrain.py).
        "retrain_export": FunctionSizing(memory_mb=3008, timeout_s=900),
        "retrain_publish": FunctionSizing(memory_mb=512, timeout_s=120),
        # The model-ops job (issue 17): quality over the settled labels, the rollout watchdog, drift, and the
        # alarms' emergency retraining; it loads the served model.
        "model_ops": FunctionSizing(memory_mb=1024, timeout_s=600),
        "retention": FunctionSizing(memory_mb=512, timeout_s=900),
        # Up to 10 queued batches (5,000 events) an invocation; the queue's visibility timeout is 6x this.
        "ingest": FunctionSizing(memory_mb=1024, timeout_s=120),
        "ingest_batches": FunctionSizing(memory_mb=256, timeout_s=10),
        # The admin surface (issue 26): small requests; a label upload or a rollback within the API's 29 s.
        "admin": FunctionSizing(memory_mb=512, timeout_s=28),
        "migrations": FunctionSizing(memory_mb=256, timeout_s=300),
        "oncall_actions": FunctionSizing(memory_mb=256, timeout_s=30),
        # The pricing experiment (issue 28): its two routes, and the hourly settlement of its rewards.
        "pricing": FunctionSizing(memory_mb=512, timeout_s=10),
        "pricing_settle": FunctionSizing(memory_mb=512, timeout_s=120),
        # A subscription delivery of up to 10,000 log events is decoded and correlated in well under a second
        # (make bench-siem); the poll of the database sources reads at most 20,000 rows a source.
        "siem": FunctionSizing(memory_mb=1024, timeout_s=120),
        "soar": FunctionSizing(memory_mb=512, timeout_s=120),
    }


class DatabaseConfig(_Strict):
    instance_type: str = "t4g.micro"
    allocated_storage_gb: int = Field(20, ge=20)
    max_allocated_storage_gb: int = Field(100, ge=20)
    multi_az: bool = False
    deletion_protection: bool = False
    backup_retention_days: int = Field(7, ge=1, le=35)
    # A non-default port (AwsSolutions-RDS11). API functions go through the proxy on 5432; jobs and
    # migrations (sessions, startup parameters) connect to the instance on this port.
    port: int = Field(5433, ge=1150, le=65535)
    database_name: str = "ticketguard"
    rotation_days: int = Field(30, ge=1, le=365)
    proxy_max_connections_percent: int = Field(90, ge=1, le=100)
    # How long a request waits for a pooled connection before the proxy refuses it (RDS's default is
    # 120 s; locally PgBouncer's query_wait_timeout is 2 s): within the request's budget.
    proxy_borrow_timeout_s: int = Field(2, ge=1, le=3)
    # The server default (parameter group), i.e. what every connection through the proxy gets.
    statement_timeout_ms: int = Field(REQUEST_STATEMENT_TIMEOUT_MS, ge=100)


class CacheConfig(_Strict):
    node_type: str = "cache.t4g.micro"
    replicas: int = Field(
        1, ge=1, le=6, description="cache clusters in the replication group (1 = primary only)"
    )
    multi_az: bool = False
    port: int = Field(6380, ge=1024, le=65535)
    engine_version: str = "7.1"


class ApiLimits(_Strict):
    """Spec 3.3 threat 2 / 5.3: 100 req/min per IP (WAF), and the stage-wide throttle. Each API key's
    rate, burst and quota are its usage plan's, in shared/api/usage_plans.yaml (one file, which the
    CDK stack and the local gateway both read)."""

    waf_requests_per_ip: int = Field(100, ge=10, description="WAF rate rule limit per client IP per window")
    waf_window_seconds: Literal[60, 120, 300, 600] = 60
    # Requests with an API key, per IP and window: above the largest usage plan's rate (200/s) so that
    # it never throttles the marketplace backend, which sends every buyer's purchase from its address.
    waf_keyed_requests_per_ip: int = Field(
        15_000, ge=100, description="WAF limit per IP per window, keyed requests"
    )
    stage_rate_per_second: float = Field(1000, gt=0, description="whole-stage throttle, all keys together")
    stage_burst: int = Field(2000, ge=1)


class AlarmThresholds(_Strict):
    """Spec 4.2: the alerts' thresholds (the fraud-rate spike's: shared/oncall/alarms.yaml)."""

    api_latency_p95_ms: float = 100.0
    model_drift_kl: float = 0.15
    failed_admin_mfa: int = 3  # ">= 3 failed MFA in 5 min"


class AlarmEndpoints(_Strict):
    critical: tuple[str, ...] = ()
    high: tuple[str, ...] = ()
    medium: tuple[str, ...] = ()

    @field_validator("critical", "high", "medium")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if "@" not in address or address.startswith("@") or address.endswith("@"):
                raise ValueError(f"not an e-mail address: {address!r}")
        return value


Severity = Literal["critical", "high", "medium"]


class PagerDutyChannel(_Strict):
    """PagerDuty through its Events API v2: an SNS HTTPS subscription to the service's Amazon CloudWatch
    integration URL (https://events.pagerduty.com/integration/<routing key>/enqueue, which takes SNS's
    messages and turns ALARM/OK into trigger/resolve). The URL embeds the routing key: it lives in an SSM
    parameter named here, never in the repository."""

    url_parameter: str = Field(..., pattern=r"^/[A-Za-z0-9_./-]+$")
    severities: tuple[Severity, ...] = ("critical", "high")


class SlackChannel(_Strict):
    """Slack through AWS Chatbot (the workspace authorized once in the Chatbot console)."""

    workspace_id: str = Field(..., pattern=r"^T[A-Z0-9]{8,}$")
    channel_id: str = Field(..., pattern=r"^[A-Z0-9]{9,}$")
    severities: tuple[Severity, ...] = ("critical", "high", "medium")


class AlarmChannels(_Strict):
    """Who hears the severity topics besides e-mail (issue 27), per environment in cdk.json."""

    sms: tuple[str, ...] = Field((), description="E.164 numbers, CRITICAL only (spec 4.2: lock + SMS)")
    pagerduty: PagerDutyChannel | None = None
    slack: SlackChannel | None = None

    @field_validator("sms")
    @classmethod
    def _e164(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for number in value:
            if not re.fullmatch(r"\+[1-9][0-9]{6,14}", number):
                raise ValueError(f"not an E.164 phone number: {number!r}")
        return value


class ScoringCapacityConfig(_Strict):
    """The scoring alias' provisioned concurrency, scaled on the API's p95 latency (infra/scoring_capacity.py)."""

    min_capacity: int = Field(0, ge=0)
    max_capacity: int = Field(20, ge=1)
    latency_target_ms: float = Field(80.0, gt=0, description="p95 the target tracking holds (alarm: 100)")


class EnvironmentConfig(_Strict):
    name: Literal["dev", "prod"]
    account: str | None = Field(None, pattern=r"^\d{12}$")
    region: str = "eu-west-1"
    availability_zones: tuple[str, ...] = ("eu-west-1a", "eu-west-1b")
    vpc_cidr: str = "10.40.0.0/16"
    # One NAT gateway for the one function that must reach the Internet (the chain RPC of the ETL);
    # every other function lives in isolated subnets and reaches AWS through VPC endpoints.
    chain_egress: bool = True
    architecture: Architecture = "arm64"
    admin_cidrs: tuple[str, ...] = Field(..., min_length=1)
    database: DatabaseConfig = DatabaseConfig()
    cache: CacheConfig = CacheConfig()
    api: ApiLimits = ApiLimits()
    alarms: AlarmThresholds = AlarmThresholds()
    alarm_endpoints: AlarmEndpoints = AlarmEndpoints()
    alarm_channels: AlarmChannels = AlarmChannels()
    scoring_capacity: ScoringCapacityConfig = ScoringCapacityConfig()
    functions: dict[str, FunctionSizing] = Field(default_factory=_default_functions)
    chain_rpc_url_parameter: str | None = Field(
        None, description="SSM SecureString parameter name holding the chain RPC URL (it embeds a key)"
    )
    contract_address: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{40}$")
    # False: the ETL runs on the backend tables alone, on purpose (it logs so and emits EtlChainSkipped).
    chain_ingestion: bool = True
    # The account's Lambda "Concurrent executions" quota in this region (Service Quotas L-B99A9384);
    # None: unknown, and then no function may reserve concurrency.
    account_concurrency_limit: int | None = Field(None, ge=10)
    # API Gateway's CloudWatch Logs role is one setting per account and region (AWS::ApiGateway::Account),
    # which every stage's execution logging needs. Exactly one environment per account makes it (the
    # first one deployed there; its role is retained, so deleting that stack leaves it for the others).
    api_gateway_account_role: bool = False

    @field_validator("admin_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            network = ipaddress.ip_network(cidr, strict=True)
            if network.prefixlen == 0:
                raise ValueError(f"admin CIDR {cidr} allows the whole Internet")
        return value

    @field_validator("functions", mode="before")
    @classmethod
    def _merge_function_defaults(cls, value: Any) -> Any:
        merged: dict[str, Any] = {name: sizing.model_dump() for name, sizing in _default_functions().items()}
        for name, overrides in (value or {}).items():
            merged[name] = {**merged.get(name, {}), **overrides}
        return merged

    @model_validator(mode="after")
    def _region_azs(self) -> EnvironmentConfig:
        if len(self.availability_zones) < 2:
            raise ValueError("RDS and ElastiCache subnet groups need at least two availability zones")
        for zone in self.availability_zones:
            if not zone.startswith(self.region):
                raise ValueError(f"availability zone {zone} is not in region {self.region}")
        return self

    @model_validator(mode="after")
    def _chain_configured(self) -> EnvironmentConfig:
        missing = [
            name
            for name, value in (
                ("chain_rpc_url_parameter", self.chain_rpc_url_parameter),
                ("contract_address", self.contract_address),
            )
            if not value
        ]
        if self.chain_ingestion and missing:
            raise ValueError(
                f"environment {self.name}: chain ingestion needs {' and '.join(missing)} "
                "(chain_rpc_url_parameter: the SSM SecureString parameter holding the RPC URL; "
                "contract_address: the ticket contract); set them, or set chain_ingestion: false to run "
                "the ETL on the backend tables alone"
            )
        return self

    @model_validator(mode="after")
    def _reservations_fit(self) -> EnvironmentConfig:
        reserved = {
            name: sizing.reserved_concurrency
            for name, sizing in self.functions.items()
            if sizing.reserved_concurrency
        }
        if not reserved:
            return self
        total = sum(reserved.values())
        listed = ", ".join(f"{name} {count}" for name, count in sorted(reserved.items()))
        if self.account_concurrency_limit is None:
            raise ValueError(
                f"environment {self.name}: functions reserve concurrency ({listed}) but "
                "account_concurrency_limit is not set: give the account's Lambda concurrent-executions "
                "quota in this region (Service Quotas L-B99A9384), or reserve none"
            )
        allowed = self.account_concurrency_limit - UNRESERVED_CONCURRENCY_MINIMUM
        if total > allowed:
            raise ValueError(
                f"environment {self.name}: functions reserve {total} concurrent executions ({listed}); "
                f"an account limit of {self.account_concurrency_limit} allows at most {allowed} "
                f"(Lambda keeps {UNRESERVED_CONCURRENCY_MINIMUM} unreserved): lower the reservations "
                "or raise the quota and account_concurrency_limit"
            )
        return self

    @property
    def is_prod(self) -> bool:
        return self.name == "prod"

    def sizing(self, function: str) -> FunctionSizing:
        if function not in self.functions:
            raise ValueError(
                f"function {function} has no size: add it to infra/config.py's _default_functions "
                "(memory_mb, timeout_s)"
            )
        return self.functions[function]


def load_environment(context: dict[str, Any], name: str) -> EnvironmentConfig:
    """Pick and validate one environment from the `environments` context mapping."""
    environments = context or {}
    if name not in environments:
        raise ValueError(f"unknown environment {name!r}; cdk.json defines: {sorted(environments)}")
    return EnvironmentConfig.model_validate({"name": name, **environments[name]})

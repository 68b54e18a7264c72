"""Settings from the environment, validated once at cold start.

The settings classes read the environment themselves (`EnvSettings`) rather than through
pydantic-settings: its sources, dotenv support and plugin loader were about a tenth of the scoring
function's import time (issue 29), for what is here a dictionary lookup per field.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from shared.errors import ConfigurationError

# The kinds of bounded value the settings hold, each bound written once.
PositiveSeconds = Annotated[float, Field(gt=0)]
EventCount = Annotated[int, Field(ge=2)]  # a SIEM rule's threshold: two events at the least
ShortWindowS = Annotated[int, Field(ge=10)]  # a SIEM rule's window, in seconds
LongWindowS = Annotated[int, Field(ge=60)]
# A limit or a duration in seconds where 0 is allowed (each field says what 0 means).
NonNegative = Annotated[int, Field(ge=0)]


class EnvSettings(BaseModel):
    """A model filled from the environment: each field from `<env_prefix><FIELD>` (or its
    validation alias), names matched case-insensitively, keyword arguments over the environment
    (what pydantic-settings did, without its import cost). A value the model refuses raises
    ConfigurationError naming the variable."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    env_prefix: ClassVar[str] = ""

    def __init__(self, **values: Any) -> None:
        environment = {name.lower(): value for name, value in os.environ.items()}
        from_environment = {
            field: environment[variable.lower()]
            for field in type(self).model_fields
            if (variable := env_name(field, type(self))).lower() in environment
        }
        given = {_field_of(type(self), key) for key in values}
        merged = {field: value for field, value in from_environment.items() if field not in given}
        try:
            super().__init__(**merged, **values)
        except ValidationError as error:
            raise ConfigurationError(_described(type(self), error)) from None


def _field_of(model: type[EnvSettings], key: str) -> str:
    """The field a keyword argument fills (its name, or its validation alias)."""
    for field, info in model.model_fields.items():
        if key in (field, info.validation_alias):
            return field
    return key


def _described(model: type[EnvSettings], error: ValidationError) -> str:
    """Each refused value as `VARIABLE: why` (a check across fields names its variables itself)."""
    problems = []
    for problem in error.errors(include_url=False):
        location = problem["loc"]
        field = _field_of(model, str(location[0])) if location else None
        named = f"{env_name(field, model)}: " if field in model.model_fields else ""
        problems.append(f"{named}{problem['msg']}")
    return f"{model.__name__} from the environment: " + "; ".join(problems)


class Thresholds(EnvSettings):
    """Decision bands of spec 1.6: score > block -> BLOCKED, > review -> MANUAL_REVIEW, ..."""

    env_prefix: ClassVar[str] = "TG_THRESHOLD_"

    two_factor: float = Field(0.40, ge=0.0, le=1.0)
    review: float = Field(0.65, ge=0.0, le=1.0)
    block: float = Field(0.85, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.two_factor < self.review < self.block:
            raise ValueError(
                "thresholds must be ordered: TG_THRESHOLD_TWO_FACTOR < TG_THRESHOLD_REVIEW < TG_THRESHOLD_BLOCK"
            )
        return self


class Settings(EnvSettings):
    """Everything a function or the local runner reads from its environment."""

    env_prefix: ClassVar[str] = "TG_"

    environment: Literal["local", "test", "dev", "prod"] = "local"
    # The request path's database (through RDS Proxy, locally PgBouncer), and the one for jobs and
    # migrations (the server itself; default: the same URL).
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    database_direct_url: str | None = Field(None, validation_alias="DATABASE_DIRECT_URL")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    chain_rpc_url: str | None = Field(None, validation_alias="CHAIN_RPC_URL")
    contract_address: str | None = None
    model_dir: str | None = None
    # The model registry in S3 (s3://bucket/models/): its CURRENT version is served when it fetches and
    # verifies, else the model of model_dir (shared.model.remote); CURRENT is re-read every ttl seconds.
    model_registry: str | None = Field(None, pattern=r"^s3://[^/]+/")
    model_registry_ttl_s: float = Field(60.0, ge=1.0)
    model_cache_dir: str | None = None  # where fetched versions are kept (default: the temp dir)
    geoip_db_path: str | None = None
    feature_cache_ttl_seconds: int = Field(300, ge=1)
    db_statement_timeout_ms: int = Field(2000, ge=100)
    db_connect_timeout_s: PositiveSeconds = 3.0
    redis_timeout_s: PositiveSeconds = 0.2
    # After a connection failure, PostgreSQL / Redis are left alone this long (one probe then).
    db_circuit_open_s: PositiveSeconds = 1.0
    redis_circuit_open_s: PositiveSeconds = 1.0
    request_timeout_s: PositiveSeconds = 5.0
    fail_open: bool = False
    chain_confirmations: int = Field(6, ge=0)
    archive_bucket: str | None = None
    alert_topic_arn_critical: str | None = None
    alert_topic_arn_high: str | None = None
    alert_topic_arn_medium: str | None = None
    waf_ip_set_name: str | None = None
    waf_ip_set_id: str | None = None
    waf_scope: Literal["REGIONAL", "CLOUDFRONT"] = "REGIONAL"
    # A per-deployment secret (shared.observability.pii.pii_salt); locally generated when unset.
    log_pii_salt: SecretStr | None = Field(None, min_length=16)
    max_body_bytes: int = Field(16_384, ge=256)
    # API functions: the comma-separated ids of the API keys whose usage plan includes this function's
    # operations (set by the CDK stack; see shared/api/access.py). Unset locally: the gateway enforces it.
    allowed_api_key_ids: str | None = None
    # Model drift (shared/model/drift.py), measured after each feature job: the window of predictions
    # read, and the fewest of them worth a KL estimate (below it nothing is emitted).
    drift_window_hours: float = Field(24.0, gt=0)
    drift_min_rows: int = Field(200, ge=1)
    # The pricing experiment (shared/pricing, spec 1.5): the epsilon-greedy routing's exploration share,
    # the kill switch (every quote arm A's fixed price; also settable in pricing.experiment), and the
    # default guardrails of an event as multiples of its face value (an assignment may set its own).
    pricing_epsilon: float = Field(0.15, ge=0.0, le=1.0)
    pricing_kill_switch: bool = False
    pricing_floor_ratio: float = Field(0.8, ge=0.0)
    pricing_ceiling_ratio: float = Field(1.5, gt=0.0)
    # The admin surface (shared/admin/auth.py): the networks it answers (comma-separated CIDRs; unset
    # locally: loopback), the user pool's issuer and app client its tokens must name (unset: not
    # checked; the authorizer checked them), and how long after a sign-in its tokens stay usable
    # (a refresh never stretches a session past it; the pool's refresh-token validity is the same).
    admin_allowed_cidrs: str | None = None
    admin_token_issuer: str | None = None
    admin_client_id: str | None = None
    admin_session_max_s: int = Field(3600, ge=300, le=86_400)
    # The audit chain's head anchored outside the database (shared/audit/anchor.py): the SSM parameter
    # the SIEM's poll writes and `ticketguard audit verify` reads; unset (locally): no anchor.
    audit_anchor_parameter: str | None = Field(None, pattern=r"^/[A-Za-z0-9_.\-/]+$")
    # On-call (shared/oncall/tightening.py): how long a fraud-rate spike keeps REQUIRE_2FA tightened.
    oncall_tighten_seconds: int = Field(7200, ge=1, le=86_400)
    # Retraining (infra/retrain.py): the state machine the model-ops job starts (unset locally: the
    # local stack's pipeline, tooling.local.retrain), and where its publish step puts a new version
    # (`shadow` as deployed: beside the served one; `serve`: the registry's CURRENT names it).
    retrain_state_machine_arn: str | None = None
    retrain_publish_to: Literal["serve", "shadow"] = "serve"
    # The local pipeline's training set (a CSV) instead of an export of the database (demos, tests).
    local_retrain_training_set: str | None = None
    # The compiled contracts (shared.chain.artifacts); default: the repository's contracts/build.
    contracts_build_dir: str | None = None

    @model_validator(mode="after")
    def _redis_within_the_budget(self) -> Settings:
        # A scoring request pays at most one Redis timeout (its first Redis failure turns Redis off
        # for the rest of it, and the breaker for the next requests); what is left of the budget must
        # still hold the PostgreSQL path. A hanging Redis with a longer timeout would turn every
        # request into a 503 after the budget, instead of a degraded decision within it.
        if self.redis_timeout_s > self.request_timeout_s / 2:
            raise ValueError(
                f"TG_REDIS_TIMEOUT_S ({self.redis_timeout_s:g} s) must be at most half of TG_REQUEST_TIMEOUT_S "
                f"({self.request_timeout_s:g} s): a request that waits out a hanging Redis must still have "
                "time to answer from PostgreSQL"
            )
        return self

    @model_validator(mode="after")
    def _deployed_needs_salt(self) -> Settings:
        if self.environment in {"dev", "prod"} and self.log_pii_salt is None:
            raise ValueError(
                "TG_LOG_PII_SALT (or TG_LOG_PII_SALT_SECRET_ARN) must be set in a deployed environment: "
                "the pseudonyms of IPs, emails and wallets need a secret salt"
            )
        return self


def env_name(field: str, settings: type[EnvSettings] | None = None) -> str:
    """The environment variable a field of `settings` (default: Settings) is read from (what the CDK
    stack sets): TG_<FIELD>, or the field's own alias."""
    model = settings or Settings
    alias = model.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"{model.env_prefix}{field.upper()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    # Deployed functions get secret ARNs, not passwords: turn them into DATABASE_URL etc. first.
    from shared.runtime_secrets import resolve_environment

    resolve_environment()
    return Settings()


@lru_cache(maxsize=1)
def get_thresholds() -> Thresholds:
    return Thresholds()


class SecuritySettings(EnvSettings):
    """The SIEM's rule thresholds and windows and the SOAR's guardrails (issue 25; docs/siem.md)."""

    env_prefix: ClassVar[str] = "TG_"

    # Rule 1, brute force: this many failed logins for one account or from one IP within the window.
    siem_brute_force_failures: EventCount = 5
    siem_brute_force_window_s: ShortWindowS = 300
    # Spec alert 4: this many failed admin MFA challenges for one admin within the window.
    siem_admin_mfa_failures: EventCount = 3
    siem_admin_mfa_window_s: ShortWindowS = 300
    # Rule 2, fraud ring: this many fraud decisions or labels tied to one wallet, or to wallets linked
    # by a shared IP, payment instrument or transfers, within the window.
    siem_fraud_ring_events: EventCount = 3
    siem_fraud_ring_window_s: LongWindowS = 86_400
    # Rule 3, DDoS: this many distinct IPs rate-limited within the window.
    siem_ddos_ips: EventCount = 50
    siem_ddos_window_s: ShortWindowS = 60
    # One account's sessions from two countries closer in time than this: a geo-velocity anomaly.
    siem_geo_velocity_s: LongWindowS = 3600
    # The database sources are re-read this far behind their cursor (late commits; event ids dedupe).
    siem_poll_overlap_s: NonNegative = 120
    # Where findings go (EventBridge bus; the SOAR rule listens on it).
    siem_event_bus: str = "default"
    # SOAR guardrails: never act on these networks (the marketplace backend's egress, the admin VPN),
    # comma-separated; at most this many automatic blocks an hour; dry-run actions (comma-separated
    # names, or `all`): recorded as what would have been done, nothing done.
    soar_never_block: str = ""
    soar_max_blocks_per_hour: NonNegative = 50
    soar_dry_run: str = ""
    # How long an automatic block / challenge / wallet blacklisting lasts (0: until undone).
    soar_block_ttl_s: NonNegative = 3600
    soar_challenge_ttl_s: NonNegative = 900
    soar_wallet_ttl_s: NonNegative = 0
    # The WAF IP sets (block: Settings.waf_ip_set_name/id; challenge: these) and the admin pool.
    waf_challenge_ip_set_name: str | None = None
    waf_challenge_ip_set_id: str | None = None
    cognito_user_pool_id: str | None = None
    pagerduty_routing_key: SecretStr | None = None

    def never_block_networks(self) -> list[str]:
        return _listed(self.soar_never_block)

    def dry_run(self, action: str) -> bool:
        names = set(_listed(self.soar_dry_run))
        return "all" in names or action in names


def _listed(value: str) -> list[str]:
    """The items of a comma-separated setting, blanks dropped."""
    return [part.strip() for part in value.split(",") if part.strip()]


@lru_cache(maxsize=1)
def get_security_settings() -> SecuritySettings:
    from shared.runtime_secrets import resolve_environment

    resolve_environment()
    return SecuritySettings()

"""Memory sizing of the scoring function and a capacity plan at 100x the spec's traffic (issue 29 items 4
and 5): the arithmetic, from the benchmarks' measured costs (`Measured`), Lambda's CPU-per-memory rule,
the stacks' settings (cdk.json) and AWS's documented limits (`LIMITS`, each with where it is written).
infra/capacity_report.py renders it into docs/performance.md (`make capacity`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from infra.config import EnvironmentConfig
from infra.cost_prices import PRICES, Traffic

# Lambda allocates CPU in proportion to memory; at 1,769 MB a function has the equivalent of one vCPU
# (one vCPU-second of credit per second): https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
LAMBDA_MB_PER_VCPU = 1769
SIZES_MB = (256, 512, 1024, 1769)
SECONDS_PER_DAY = 86_400
PEAK_FACTOR = 10.0  # the peaks: 10x the day's mean
SCALE = 100.0  # 100x the spec: 20 M events and 120 M scoring requests a day


@dataclass(frozen=True)
class Measured:
    """What the benchmarks measured on the 2-core machine (their source and load average named)."""

    score_cpu_ms: float = 1.98  # CPU per scoring request in the handler's process (make bench-api [1])
    score_p50_ms: float = 2.91  # the handler's p50 in process: the rest of it waits on PostgreSQL and Redis
    # PostgreSQL's CPU per scoring request (its backends' CPU over the run, make bench-api [1]): the lookup,
    # the signals, a miss's facts (their functions' plans kept) and the INSERT
    score_pg_cpu_ms: float = 0.81
    score_source: str = (
        "issue 29's `make bench-api` [1] with the lookup and the feature queries as functions, in process, "
        "3,000 requests a run, 2026-12-04 23:12 to 23:22 UTC: the mean of five runs at load average 0.8 to "
        "1.1 on 2 cores (docs/performance.md)"
    )
    import_s: float = 1.3  # the scoring handler's import in a fresh interpreter: a cold start's init
    ingest_facts_per_s: float = 5_880.0  # one ingest consumer, one core (make bench-ingest, docs/api.md)
    facts_per_event: float = 393_010 / 200_000  # the facts behind a marketplace event (same run)
    # Per scored request, a feature-cache hit or miss alike (tests/integration/test_scoring_round_trips.py):
    redis_round_trips: int = 3  # the lookup cache + feature read; the rate limits; the purchase recorded
    pg_round_trips: int = 2  # the lookup with the signals (and a miss's facts); the prediction INSERT
    aws_round_trip_ms: float = 0.5  # estimate: in-VPC ElastiCache / RDS Proxy round trip, same AZ
    events_per_ingest_request: int = 100  # estimate: the backend's batches (at most 500 events each)

    @property
    def score_wait_ms(self) -> float:
        return max(0.0, self.score_p50_ms - self.score_cpu_ms)

    @property
    def aws_wait_ms(self) -> float:
        """What a scoring request waits on the network in AWS instead of the loopback."""
        return (self.redis_round_trips + self.pg_round_trips) * self.aws_round_trip_ms


@dataclass(frozen=True)
class Limit:
    component: str
    limit: float
    unit: str
    source: str  # where the figure is written, or "estimate" and why


# AWS's documented limits (defaults, eu-west-1), and the two estimates the documents give no figure for.
LIMITS = {
    "apigw": Limit(
        "API Gateway account throttle",
        10_000,
        "requests/s per account and Region (burst 5,000)",
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
    ),
    "lambda_account": Limit(
        "Lambda concurrent executions (account)",
        1_000,
        "concurrent executions per Region (default quota L-B99A9384; cdk.json's account_concurrency_limit)",
        "https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html",
    ),
    "lambda_scaling": Limit(
        "Lambda scaling rate",
        1_000,
        "new execution environments per function every 10 s",
        "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html",
    ),
    "sqs_fifo": Limit(
        "SQS FIFO, one message group",
        300,
        "messages/s per API action without batching, 3,000 with batches of 10; one group's next batch "
        "waits for the last one's deletion",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
    ),
    "pg_writes": Limit(
        "PostgreSQL committed single-row writes",
        4_000,
        "commits/s on db.m7g.large (2 vCPUs, gp3)",
        "estimate: no AWS figure; measure with pgbench on the instance before relying on it",
    ),
    "pg_cpu": Limit(
        "PostgreSQL's CPU, scoring requests only",
        2,
        "vCPUs of db.m7g.large",
        "estimate: the CPU measured per request here (make bench-api [1]) taken as one m7g vCPU's; the "
        "instance also runs ingest, the ETL and the jobs",
    ),
    "redis_ops": Limit(
        "ElastiCache Redis, one primary",
        80_000,
        "commands/s on cache.m7g.large (Lua scripts count as one command but cost more)",
        "estimate: no AWS figure; redis-benchmark on the node type measures it",
    ),
}


def duration_ms(measured: Measured, memory_mb: int) -> float:
    """One scoring request's duration in Lambda at `memory_mb`: the CPU part stretched by the CPU share
    (one vCPU at 1,769 MB; the handler is single-threaded, so more does not shorten it), plus the waits."""
    share = min(1.0, memory_mb / LAMBDA_MB_PER_VCPU)
    return measured.score_cpu_ms / share + measured.score_wait_ms + measured.aws_wait_ms


@dataclass(frozen=True)
class SizingRow:
    memory_mb: int
    vcpu_share: float
    duration_ms: float
    billed_ms: int  # Lambda bills per 1 ms, rounded up
    cost_per_million: float  # arm64: GB-seconds plus requests
    cold_init_s: float  # the import, at this CPU share

    @classmethod
    def at(cls, measured: Measured, memory_mb: int) -> SizingRow:
        share = min(1.0, memory_mb / LAMBDA_MB_PER_VCPU)
        duration = duration_ms(measured, memory_mb)
        billed = math.ceil(duration)
        gb_seconds = memory_mb / 1024 * billed / 1000
        cost = 1e6 * gb_seconds * PRICES["lambda_arm64_gb_second"] + PRICES["lambda_requests_million"]
        return cls(memory_mb, share, duration, billed, cost, measured.import_s / share)


def sizing(measured: Measured) -> list[SizingRow]:
    return [SizingRow.at(measured, size) for size in SIZES_MB]


def scaled_traffic(scale: float = SCALE) -> Traffic:
    """The spec's traffic times `scale`: scoring, pricing quotes and events alike."""
    spec = Traffic()
    return replace(
        spec,
        api_requests_per_day=int(spec.api_requests_per_day * scale),
        events_per_day=int(spec.events_per_day * scale),
        pricing_requests_per_day=int(spec.pricing_requests_per_day * scale),
    )


@dataclass(frozen=True)
class Load:
    """What one component carries at the peak of the spec's traffic (scale 1), against its limit."""

    key: str
    component: str
    peak_at_spec: float  # at the spec's traffic, in the limit's unit
    limit: float
    unit: str
    source: str

    def saturates_at(self) -> float:
        """The multiple of the spec's traffic at which the peak reaches the limit."""
        return self.limit / self.peak_at_spec

    def peak_at(self, scale: float) -> float:
        return self.peak_at_spec * scale


def _peak_per_s(per_day: float) -> float:
    return per_day / SECONDS_PER_DAY * PEAK_FACTOR


def loads(measured: Measured, prod: EnvironmentConfig, backend_rate_limit: float) -> list[Load]:
    """Each component's peak at the spec's traffic and its limit, in the order they saturate."""
    spec = Traffic()
    score = _peak_per_s(spec.api_requests_per_day)
    facts = _peak_per_s(spec.events_per_day * measured.facts_per_event)
    api = score + _peak_per_s(spec.pricing_requests_per_day)
    api += _peak_per_s(spec.events_per_day / measured.events_per_ingest_request)
    sizing_score = prod.sizing("score")
    concurrency = score * duration_ms(measured, sizing_score.memory_mb) / 1000
    ingest_memory = prod.sizing("ingest").memory_mb
    consumer_facts = measured.ingest_facts_per_s * min(1.0, ingest_memory / LAMBDA_MB_PER_VCPU)
    rows = [
        Load(
            "usage_plan",
            "the backend key's usage plan",
            api,
            backend_rate_limit,
            "requests/s",
            "shared/api/usage_plans.yaml (ours: marketplace-backend)",
        ),
        _limited("apigw", api),
        Load(
            "reserved",
            "scoring function's reserved concurrency",
            concurrency,
            float(sizing_score.reserved_concurrency or prod.account_concurrency_limit or 1000),
            "concurrent executions",
            "cdk.json (prod functions.score.reserved_concurrency)",
        ),
        _limited("lambda_account", concurrency),
        Load(
            "ingest_group",
            "ingest consumer of one FIFO message group",
            facts,
            consumer_facts,
            "facts/s",
            f"measured: {measured.ingest_facts_per_s:,.0f} facts/s on one core, x "
            f"{min(1.0, ingest_memory / LAMBDA_MB_PER_VCPU):.2f} vCPU at {ingest_memory} MB",
        ),
        _limited(
            "pg_writes", score * 1 + facts / 50
        ),  # a prediction INSERT each; facts upserted 50 a statement
        _limited("pg_cpu", score * measured.score_pg_cpu_ms / 1000),
        _limited("redis_ops", score * measured.redis_round_trips),
    ]
    return sorted(rows, key=Load.saturates_at)


def _limited(key: str, peak_at_spec: float) -> Load:
    limit = LIMITS[key]
    return Load(key, limit.component, peak_at_spec, limit.limit, limit.unit, limit.source)

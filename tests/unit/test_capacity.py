"""Memory sizing and the capacity plan's arithmetic (issue 29 items 4 and 5, infra/capacity.py)."""

from __future__ import annotations

import json

import pytest

from infra.capacity import (
    LAMBDA_MB_PER_VCPU,
    LIMITS,
    PEAK_FACTOR,
    SECONDS_PER_DAY,
    Measured,
    SizingRow,
    duration_ms,
    loads,
    scaled_traffic,
    sizing,
)
from infra.config import EnvironmentConfig, load_environment
from infra.cost_prices import PRICES, Traffic
from tests.fixtures.infra import ROOT

CPU_BOUND = Measured(score_cpu_ms=4.0, score_p50_ms=4.0, redis_round_trips=0, pg_round_trips=0, import_s=1.0)


def _prod() -> EnvironmentConfig:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]["environments"]
    return load_environment(context, "prod")


def test_given_a_cpu_bound_request_when_memory_halves_then_it_takes_twice_as_long_for_the_same_gb_seconds() -> (
    None
):
    # Given a request that only computes (4 ms of one vCPU)
    full, half = SizingRow.at(CPU_BOUND, LAMBDA_MB_PER_VCPU), SizingRow.at(CPU_BOUND, LAMBDA_MB_PER_VCPU // 2)
    # Then half the memory is about half a vCPU: twice the duration and the cold start's import
    assert full.duration_ms == pytest.approx(4.0)
    assert half.duration_ms == pytest.approx(4.0 * LAMBDA_MB_PER_VCPU / (LAMBDA_MB_PER_VCPU // 2))
    assert half.cold_init_s == pytest.approx(2.0, rel=1e-3)
    # ...for (nearly) the same GB-seconds: the compute part of the price barely moves
    compute = [row.cost_per_million - PRICES["lambda_requests_million"] for row in (full, half)]
    assert compute[1] == pytest.approx(compute[0], rel=0.15)


def test_given_more_than_one_vcpu_of_memory_then_a_single_threaded_request_is_not_faster_but_dearer() -> None:
    one, two = SizingRow.at(CPU_BOUND, LAMBDA_MB_PER_VCPU), SizingRow.at(CPU_BOUND, 2 * LAMBDA_MB_PER_VCPU)
    assert two.duration_ms == one.duration_ms and two.vcpu_share == 1.0
    assert two.cost_per_million > one.cost_per_million


def test_given_waits_on_the_network_then_they_are_billed_at_every_size() -> None:
    # Given 1 ms of CPU, 0.5 ms waited locally and 5 round trips of 0.5 ms in the VPC
    measured = Measured(score_cpu_ms=1.0, score_p50_ms=1.5, redis_round_trips=3, pg_round_trips=2)
    # Then each size's duration is the stretched CPU plus the same 3 ms of waiting
    for row in sizing(measured):
        assert row.duration_ms == pytest.approx(
            LAMBDA_MB_PER_VCPU / min(row.memory_mb, LAMBDA_MB_PER_VCPU) + 3.0
        )
        assert row.billed_ms >= row.duration_ms
    assert duration_ms(measured, 256) > duration_ms(measured, 1769)


def test_given_100x_the_spec_then_every_volume_is_scaled() -> None:
    spec, scaled = Traffic(), scaled_traffic(100)
    assert scaled.api_requests_per_day == 100 * spec.api_requests_per_day == 120_000_000
    assert scaled.events_per_day == 100 * spec.events_per_day == 20_000_000
    assert scaled.pricing_requests_per_day == 100 * spec.pricing_requests_per_day


def test_given_the_prod_settings_then_components_come_in_the_order_they_saturate() -> None:
    # Given prod's settings and a usage plan of 200 requests/s
    rows = loads(Measured(), _prod(), backend_rate_limit=200)
    multiples = [row.saturates_at() for row in rows]
    # Then they are sorted by the multiple of the spec's traffic at which each one's peak meets its limit
    assert multiples == sorted(multiples)
    by_key = {row.key: row for row in rows}
    # ...the API Gateway throttle is met when the peak of all requests reaches 10,000/s
    spec = Traffic()
    scoring_peak = spec.api_requests_per_day / SECONDS_PER_DAY * PEAK_FACTOR
    assert by_key["apigw"].limit == LIMITS["apigw"].limit == 10_000
    assert by_key["apigw"].peak_at_spec > scoring_peak
    assert by_key["apigw"].saturates_at() == pytest.approx(10_000 / by_key["apigw"].peak_at_spec)
    # ...and the backend's own usage plan (200/s) comes first, long before any AWS limit
    assert rows[0].key == "usage_plan" and rows[0].saturates_at() < 2
    # ...PostgreSQL's CPU is the scoring peak times the CPU each request costs it, against the instance's vCPUs
    assert by_key["pg_cpu"].peak_at_spec == pytest.approx(scoring_peak * Measured().score_pg_cpu_ms / 1000)
    assert by_key["pg_cpu"].saturates_at() == pytest.approx(2 / by_key["pg_cpu"].peak_at_spec)
    # ...the scoring function's concurrency is its peak rate times its duration at prod's memory
    duration = duration_ms(Measured(), _prod().sizing("score").memory_mb)
    assert by_key["reserved"].peak_at_spec == pytest.approx(scoring_peak * duration / 1000)

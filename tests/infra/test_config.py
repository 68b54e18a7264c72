"""Environment configuration: what cdk.json may say, and what it may not."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.config import load_environment
from tests.fixtures.infra import cdk_context

pytestmark = pytest.mark.xdist_group("infra")


def environments() -> dict:
    return cdk_context()["environments"]


def test_given_cdk_json_when_loading_both_environments_then_prod_is_hardened_and_dev_is_cheap():
    dev = load_environment(environments(), "dev")
    prod = load_environment(environments(), "prod")
    assert dev.architecture == prod.architecture == "arm64"
    assert prod.database.multi_az and prod.database.deletion_protection
    assert prod.cache.multi_az and prod.cache.replicas >= 2
    assert not dev.database.multi_az
    assert dev.api.waf_requests_per_ip == 100 and dev.api.waf_window_seconds == 60  # spec: 100 req/min per IP


def test_given_an_override_of_one_function_when_loading_then_the_other_defaults_remain():
    prod = load_environment(environments(), "prod")
    assert prod.sizing("score").reserved_concurrency == 100
    assert prod.sizing("score").timeout_s == 10  # default kept
    assert prod.sizing("etl").reserved_concurrency == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"admin_cidrs": ["0.0.0.0/0"]}, "whole Internet"),
        ({"admin_cidrs": ["10.0.0.1/8"]}, "host bits"),
        ({"admin_cidrs": []}, "at least 1"),
        ({"availability_zones": ["us-east-1a", "us-east-1b"]}, "not in region"),
        ({"availability_zones": ["eu-west-1a"]}, "at least two"),
        ({"architecture": "sparc"}, "arm64"),
        ({"alarm_endpoints": {"critical": ["not-an-address"]}}, "e-mail"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_given_a_bad_value_when_loading_then_a_clear_error_names_it(change, message):
    raw = {**environments()["dev"], **change}
    with pytest.raises(ValidationError, match=message):
        load_environment({"dev": raw}, "dev")


def test_given_an_unknown_environment_when_loading_then_the_known_ones_are_listed():
    with pytest.raises(ValueError, match=r"unknown environment 'staging'.*\['dev', 'prod'\]"):
        load_environment(environments(), "staging")

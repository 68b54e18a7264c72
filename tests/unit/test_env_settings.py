"""shared.config.EnvSettings: the settings classes read the environment themselves (issue 29, no
pydantic-settings on the scoring path), with the names, defaults and checks they had."""

from __future__ import annotations

import pytest

from shared.config import Settings, Thresholds, env_name
from shared.errors import ConfigurationError
from shared.ratelimit.limiter import RateLimitSettings


def test_given_prefixed_and_aliased_variables_when_settings_load_then_each_field_reads_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_REDIS_TIMEOUT_S", "0.3")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("tg_fail_open", "true")  # matched whatever its case, as before
    settings = Settings()
    assert (settings.redis_timeout_s, settings.redis_url, settings.fail_open) == (
        0.3,
        "redis://cache:6379/0",
        True,
    )
    assert settings.feature_cache_ttl_seconds == 300  # a default where nothing is set


def test_given_a_keyword_and_a_variable_when_settings_load_then_the_keyword_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_RATELIMIT_IP_PER_MINUTE", "7")
    monkeypatch.setenv("DATABASE_URL", "postgresql://from-env")
    assert RateLimitSettings(ip_per_minute=9).ip_per_minute == 9
    assert RateLimitSettings().ip_per_minute == 7
    assert Settings(database_url="postgresql://given").database_url == "postgresql://given"


def test_given_a_value_out_of_bounds_when_settings_load_then_the_error_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_THRESHOLD_REVIEW", "1.5")
    with pytest.raises(
        ConfigurationError, match="TG_THRESHOLD_REVIEW: Input should be less than or equal to 1"
    ):
        Thresholds()


def test_given_unordered_thresholds_when_loaded_then_the_check_across_fields_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_THRESHOLD_TWO_FACTOR", "0.7")
    with pytest.raises(ConfigurationError, match="thresholds must be ordered"):
        Thresholds()


def test_given_fields_when_their_variables_are_named_then_prefix_or_alias() -> None:
    assert env_name("redis_timeout_s") == "TG_REDIS_TIMEOUT_S"
    assert env_name("database_url") == "DATABASE_URL"
    assert env_name("enabled", RateLimitSettings) == "TG_RATELIMIT_ENABLED"

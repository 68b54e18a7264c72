"""SimulationConfig refuses what it cannot honour, with a message naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tooling.simulator.config import EVENTS_PER_ORDER, SimulationConfig, default_end


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"days": 0}, "days"),
        ({"transactions_per_day": 0}, "transactions_per_day"),
        ({"fraud_rate": 0.9}, "fraud_rate"),
        ({"chain": "ganache"}, "chain"),
        ({"end": datetime(2026, 1, 1)}, "end"),  # naive: which timezone?
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_config_is_refused_naming_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        SimulationConfig(**overrides)  # type: ignore[arg-type]
    assert field in str(refused.value)


def test_one_volume_at_a_time() -> None:
    with pytest.raises(ValidationError, match="not both"):
        SimulationConfig(transactions_per_day=10, events_per_day=100)


def test_events_per_day_becomes_orders_and_the_window_ends_on_the_hour() -> None:
    config = SimulationConfig(events_per_day=200_000, days=1, end=datetime(2026, 11, 20, tzinfo=UTC))
    assert config.orders_per_day == round(200_000 / EVENTS_PER_ORDER)
    assert config.start == datetime(2026, 11, 19, tzinfo=UTC)
    assert default_end().minute == default_end().second == default_end().microsecond == 0

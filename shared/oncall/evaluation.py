"""An alarm's state from its datapoints, as CloudWatch decides it: the latest `evaluation_periods`
periods, each a statistic of the values that fell in it; ALARM when at least `datapoints` of them
breach the threshold; a period without data does not breach (the alarms' TreatMissingData is
notBreaching, infra/alarms.py), but for a heartbeat's (`missing_data: breaching`). The local stack evaluates the definitions with these functions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from shared.oncall.definitions import AlarmDefinition

State = Literal["OK", "ALARM"]


def statistic(values: Sequence[float], name: str) -> float | None:
    """Sum, Average, Maximum, Minimum, SampleCount or a percentile (p95: nearest rank) of one period's
    values; None for a period without values."""
    if not values:
        return None
    if name == "Sum":
        return float(sum(values))
    if name == "Average":
        return float(sum(values)) / len(values)
    if name == "Maximum":
        return float(max(values))
    if name == "Minimum":
        return float(min(values))
    if name == "SampleCount":
        return float(len(values))
    if name.startswith("p"):
        ordered = sorted(values)
        rank = max(1, math.ceil(float(name[1:]) / 100 * len(ordered)))
        return float(ordered[rank - 1])
    raise ValueError(f"unknown statistic {name!r}")


def breaches(value: float | None, threshold: float, comparison: str) -> bool:
    if value is None:
        return False
    return {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
    }[comparison]


def state_of(definition: AlarmDefinition, periods: Sequence[Sequence[float]]) -> State:
    """The state after the given periods (oldest first; the latest `evaluation_periods` count)."""
    if definition.metric is None or definition.threshold is None:
        raise ValueError(f"{definition.name} has no metric of its own to evaluate")
    latest = periods[-definition.evaluation_periods :]
    missing_breaches = definition.missing_data == "breaching"
    breaching = sum(
        (missing_breaches and not values)
        or breaches(
            statistic(values, definition.metric.statistic), definition.threshold, definition.comparison
        )
        for values in latest
    )
    return "ALARM" if breaching >= (definition.datapoints or definition.evaluation_periods) else "OK"

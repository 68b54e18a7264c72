"""How often the templates' schedules run a function or a state machine in a month: EventBridge's rate and
cron expressions counted over a whole year (infra/cost_model.py prices the runs)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from infra.cost_prices import HOURS_PER_MONTH
from infra.cost_resources import Templates, resources


def _cron_values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    values: set[int] = set()
    for part in field.split(","):
        for name, number in (names or {}).items():
            part = part.replace(name, str(number))
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part in {"*", "?"}:
            start, stop = low, high
        elif "-" in part:
            start, stop = (int(x) for x in part.split("-"))
        else:
            start = int(part)
            stop = high if step > 1 else start
        values.update(range(start, stop + 1, step))
    return values


def fires_per_month(expression: str) -> float:
    """How often an EventBridge schedule expression fires in an average month (over a whole year)."""
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if rate:
        minutes = int(rate.group(1)) * {"m": 1, "h": 60, "d": 1440}[rate.group(2)[0]]
        return HOURS_PER_MONTH * 60 / minutes
    cron = re.fullmatch(r"cron\((.+)\)", expression)
    if not cron:
        raise ValueError(f"not a schedule expression: {expression}")
    minute, hour, dom, month, dow, _year = cron.group(1).split()
    days = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
    per_day = len(_cron_values(minute, 0, 59)) * len(_cron_values(hour, 0, 23))
    doms, months, dows = _cron_values(dom, 1, 31), _cron_values(month, 1, 12), _cron_values(dow, 1, 7, days)
    day, fired_days = date(2025, 1, 1), 0
    while day.year == 2025:
        weekday = day.isoweekday() % 7 + 1  # EventBridge: 1 = Sunday
        if day.month in months and day.day in doms and weekday in dows:
            fired_days += 1
        day += timedelta(days=1)
    return per_day * fired_days / 12


def _target_id(target: dict) -> str | None:
    arn = target.get("Arn", {})
    if isinstance(arn, dict):
        if "Fn::GetAtt" in arn:
            return str(arn["Fn::GetAtt"][0])
        if "Ref" in arn:
            return str(arn["Ref"])
    return None


def scheduled_runs(templates: Templates) -> dict[str, float]:
    """Logical id of a function or state machine -> runs a month, from the scheduled rules."""
    runs: dict[str, float] = {}
    for _, props, _ in resources(templates, "AWS::Events::Rule"):
        if "ScheduleExpression" not in props:
            continue
        for target in props.get("Targets", []):
            target_id = _target_id(target)
            if target_id:
                runs[target_id] = runs.get(target_id, 0.0) + fires_per_month(props["ScheduleExpression"])
    return runs

"""The schedules table (shared/jobs/schedules.yaml): which job runs when, read by the CDK stack
(infra/jobs.py: the EventBridge rules) and by the local timers (tooling/local/schedules.py). A schema
and its loader only, so that infra may import it (DESIGN: configuration schemas)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

SCHEDULES_PATH = Path(__file__).with_name("schedules.yaml")
_EXPRESSION = re.compile(r"^(cron\((\S+ ){5}\S+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")
_FIELDS = frozenset(
    {
        "name",
        "function",
        "state_machine",
        "expression",
        "description",
        "payload",
        "with_time",
        "local_interval_s",
        "rounds",
    }
)


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str  # EventBridge schedule expression, UTC
    description: str
    # What the rule starts, one of the two: functions/<function>/handler.py, or a state machine
    # (`retrain`: the retraining pipeline of infra/retrain.py).
    function: str | None = None
    state_machine: str | None = None
    payload: Mapping[str, Any] | None = None  # the job's input (None: EventBridge's own event)
    # Add the rule's firing time to the payload as `scheduled_at` (the feature jobs snapshot by it).
    with_time: bool = False
    local_interval_s: float | None = None  # None: the local timers do not run it
    # The function continues in rounds (shared/jobs/rounds.py): a loop, not the rule, invokes it again.
    rounds: bool = False


def _schedule(entry: Mapping[str, Any]) -> Schedule:
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ValueError(f"schedule {entry.get('name')}: unknown field(s) {sorted(unknown)}")
    schedule = Schedule(**entry)
    if not _EXPRESSION.match(schedule.expression):
        raise ValueError(f"schedule {schedule.name}: {schedule.expression!r} is not a cron() or rate()")
    if (schedule.function is None) == (schedule.state_machine is None):
        raise ValueError(f"schedule {schedule.name}: give either a function or a state_machine")
    if schedule.local_interval_s is not None and schedule.local_interval_s <= 0:
        raise ValueError(f"schedule {schedule.name}: local_interval_s must be positive")
    if schedule.rounds and schedule.function is None:
        raise ValueError(f"schedule {schedule.name}: only a function runs in rounds")
    if schedule.local_interval_s is not None and schedule.function is None:
        raise ValueError(f"schedule {schedule.name}: only a function runs on the local timers")
    return schedule


def load_schedules(path: Path = SCHEDULES_PATH) -> tuple[Schedule, ...]:
    schedules = tuple(_schedule(entry) for entry in yaml.safe_load(path.read_text())["schedules"])
    names = [schedule.name for schedule in schedules]
    if len(names) != len(set(names)):
        raise ValueError(f"{path.name}: two schedules share a name")
    return schedules


SCHEDULES = load_schedules()


# ---------------------------------------------------------------- firing times (simulated time)
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_RATE_UNIT_S = {"minute": 60, "hour": 3_600, "day": 86_400}


def _field(text: str, low: int, high: int) -> frozenset[int]:
    """One cron field: `*` / `?`, a value, a range a-b, lists of those, an optional /step."""
    values: set[int] = set()
    for part in text.split(","):
        for name, number in _WEEKDAYS.items():
            part = part.replace(name, str(number))
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in {"*", "?"}:
            first, last = low, high
        elif "-" in base:
            first, last = (int(x) for x in base.split("-", 1))
        else:
            first = int(base)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


def fire_times(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """When EventBridge fires `schedule` in [start, end) (UTC): what a replay of the schedules in
    simulated time (tooling.livepath) runs. rate(): every period from `start`, as a rule created then."""
    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", schedule.expression)
    if rate:
        period = timedelta(seconds=int(rate.group(1)) * _RATE_UNIT_S[rate.group(2)])
        count = max(0, math.ceil((end - start) / period))
        return [start + i * period for i in range(count) if start + i * period < end]
    minute, hour, dom, month, dow, _year = schedule.expression[len("cron(") : -1].split()
    minutes, hours = sorted(_field(minute, 0, 59)), sorted(_field(hour, 0, 23))
    doms, months, dows = _field(dom, 1, 31), _field(month, 1, 12), _field(dow, 1, 7)
    fired: list[datetime] = []
    day = datetime.combine(start.astimezone(UTC).date(), time(0), tzinfo=UTC)
    while day < end:
        if day.day in doms and day.month in months and day.isoweekday() % 7 + 1 in dows:
            fired += [
                at
                for h in hours
                for m in minutes
                if start <= (at := day + timedelta(hours=h, minutes=m)) < end
            ]
        day += timedelta(days=1)
    return fired

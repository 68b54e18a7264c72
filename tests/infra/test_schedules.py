"""One schedules table (shared/jobs/schedules.yaml) for the EventBridge rules and the local timers:
these tests fail when the two drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.functions import CATALOG
from shared.jobs.schedules import SCHEDULES, load_schedules
from tooling.local.schedules import JOBS

pytestmark = pytest.mark.xdist_group("infra")

HOUR, DAY = 3600, 86400


def cadence_s(expression: str) -> int:
    """How often an EventBridge expression of the forms the table uses fires, in seconds: rate(N
    unit); cron with a day of the week (weekly), with one hour (daily), else hourly."""
    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression)
    if rate:
        return int(rate.group(1)) * {"minute": 60, "hour": HOUR, "day": DAY}[rate.group(2)]
    minute, hour, _day, _month, weekday, _year = expression.removeprefix("cron(").removesuffix(")").split()
    assert minute.isdigit(), f"{expression}: more than one run an hour is not a form this test knows"
    if weekday not in {"?", "*"}:
        return 7 * DAY
    return DAY if hour.isdigit() else HOUR


def test_given_the_schedules_table_when_synthesized_then_each_deployed_function_has_one_rule_per_row(
    dev_synth,
):
    rules = {
        rule["Properties"]["Name"]: rule["Properties"]
        for rule in dev_synth.resources("AWS::Events::Rule").values()
        if "ScheduleExpression" in rule["Properties"]  # not the rules of an event pattern (alarms)
    }
    descriptions = {
        function["Properties"].get("Description")
        for function in dev_synth.resources("AWS::Lambda::Function").values()
    }
    deployed = {spec.name for spec in CATALOG if spec.description in descriptions}
    machines = {
        machine["Properties"]["StateMachineName"].removeprefix("ticketguard-dev-")
        for machine in dev_synth.resources("AWS::StepFunctions::StateMachine").values()
    }
    expected = {
        f"ticketguard-dev-{schedule.name}": (schedule.expression, schedule.description)
        for schedule in SCHEDULES
        if schedule.function in deployed or schedule.state_machine in machines
    }
    assert {
        name: (rule["ScheduleExpression"], rule["Description"]) for name, rule in rules.items()
    } == expected


def test_given_the_schedules_table_then_the_local_timers_run_each_row_with_a_local_interval():
    local = {schedule.name: schedule for schedule in SCHEDULES if schedule.local_interval_s is not None}
    assert {job.name for job in JOBS} == set(local)
    for job in JOBS:
        row = local[job.name]
        assert (job.function, job.interval_s, job.detail) == (
            row.function,
            row.local_interval_s,
            dict(row.payload or {}),
        )


def test_given_each_local_job_then_its_interval_is_the_cadence_of_its_eventbridge_expression():
    for schedule in SCHEDULES:
        if schedule.local_interval_s is not None:
            assert schedule.local_interval_s == cadence_s(schedule.expression), schedule.name


def test_given_an_hourly_and_a_daily_run_of_one_job_then_the_local_timers_run_the_daily_full_pass_last():
    names = [job.name for job in JOBS]
    assert names.index("etl-hourly") < names.index("etl-daily")
    assert names.index("features-hourly") < names.index("features-daily")


@pytest.mark.parametrize(
    ("row", "refused"),
    [
        ("{name: a, function: etl, expression: 'cron(0 2 * *)', description: d}", "not a cron"),
        (
            "{name: a, function: etl, expression: 'rate(5 minutes)', description: d, every: 3}",
            "unknown field",
        ),
        (
            "{name: a, function: etl, expression: 'rate(5 minutes)', description: d, local_interval_s: 0}",
            "positive",
        ),
        (
            "{name: a, function: etl, state_machine: b, expression: 'rate(5 minutes)', description: d}",
            "either a function or a state_machine",
        ),
        ("{name: a, expression: 'rate(5 minutes)', description: d}", "either a function or a state_machine"),
        (
            "{name: a, state_machine: b, expression: 'rate(1 hour)', description: d, local_interval_s: 3600}",
            "only a function runs on the local timers",
        ),
    ],
)
def test_given_a_bad_row_when_the_table_is_loaded_then_it_is_refused(tmp_path: Path, row: str, refused: str):
    table = tmp_path / "schedules.yaml"
    table.write_text(f"schedules:\n  - {row}\n")
    with pytest.raises(ValueError, match=refused):
        load_schedules(table)

"""The alarm definitions (shared/oncall/alarms.yaml) and their evaluation as CloudWatch decides it, which
the local stack's evaluator (tooling/local/alerts.py) applies to its own metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.oncall.definitions import AlarmDefinition, load_alarm_book
from shared.oncall.evaluation import breaches, state_of, statistic
from tooling.local.alerts import LocalAlarms, LocalMetrics, LocalSink

ROOT = Path(__file__).resolve().parents[2]
BOOK = load_alarm_book()


def test_given_the_book_then_every_runbook_it_names_exists_and_says_severity_and_action() -> None:
    for path in BOOK.runbooks():
        text = (ROOT / path).read_text()
        assert "**Severity**" in text and "**Action**" in text, path
        assert "## First checks" in text and "## Mitigation" in text and "## Escalation" in text, path


def test_given_the_book_then_the_local_alarms_are_the_scoring_ones_on_the_apps_own_metrics() -> None:
    assert {a.name for a in BOOK.local()} == {
        "fraud-rate-spike",
        "degraded-scoring",
        "dependency-unavailable",
        "rate-limit-fallback",
    }
    assert BOOK.alarm("fraud-rate-spike").action == "tighten-2fa"
    assert BOOK.alarm("failed-admin-mfa").action == "lock-account"
    assert BOOK.alarm("api-latency-high").action == "scale-scoring"


def test_given_an_alarm_not_in_the_book_then_asking_for_it_says_where_to_add_it() -> None:
    with pytest.raises(KeyError, match=r"alarms\.yaml"):
        BOOK.alarm("no-such-alarm")


def test_given_a_definition_with_neither_metric_nor_maker_then_it_is_refused() -> None:
    with pytest.raises(ValidationError, match="defined_in"):
        AlarmDefinition(name="x", component="api", severity="high", action="page", runbook="x", summary="x")
    with pytest.raises(ValidationError, match="more than a day"):
        AlarmDefinition.model_validate(
            {
                "name": "x",
                "component": "api",
                "severity": "high",
                "action": "page",
                "runbook": "x",
                "summary": "x",
                "metric": {"source": "api", "name": "Count", "statistic": "Sum"},
                "threshold": 1,
                "period_minutes": 60,
                "evaluation_periods": 25,
            }
        )


def test_given_statistics_then_they_follow_cloudwatchs() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert [statistic(values, s) for s in ("Sum", "Average", "Maximum", "Minimum", "SampleCount")] == [
        10.0,
        2.5,
        4.0,
        1.0,
        4.0,
    ]
    assert statistic(list(range(1, 101)), "p95") == 95
    assert statistic([], "Sum") is None
    assert not breaches(None, 0, ">")  # missing data is no breach
    assert breaches(0.5, 0, ">") and not breaches(0, 0, ">") and breaches(0, 0, ">=")


def test_given_the_fraud_spike_definition_then_two_of_two_periods_above_3_percent_fire_it() -> None:
    spike = BOOK.alarm("fraud-rate-spike")
    high, low = [100.0, 0.0, 0.0, 0.0, 0.0], [0.0] * 50  # 20% and 0% fraud
    assert state_of(spike, [high, high]) == "ALARM"
    assert state_of(spike, [low, high]) == "OK"  # one period is not "for 10 minutes"
    assert state_of(spike, [high, []]) == "OK"  # a period without decisions does not breach


def test_given_the_pricing_settlement_heartbeat_then_three_hours_without_a_run_fire_it_and_one_run_clears_it() -> (
    None
):
    stale = BOOK.alarm("pricing-settle-stale")
    # A failed or skipped run emits nothing: a missing hour breaches (a heartbeat), unlike other alarms
    assert (
        stale.missing_data == "breaching" and BOOK.alarm("fraud-rate-spike").missing_data == "not_breaching"
    )
    assert state_of(stale, [[1.0], [], [], []]) == "ALARM"
    assert state_of(stale, [[], [], [1.0]]) == "OK"  # the last hour's run: the job is alive
    assert state_of(stale, [[1.0], [1.0], []]) == "OK"  # one missed hour is not stale


def test_given_the_kill_switch_and_guardrail_alarms_then_they_fire_on_their_own_metrics() -> None:
    kill, clamps = BOOK.alarm("pricing-kill-switch"), BOOK.alarm("pricing-guardrail-hits")
    assert state_of(kill, [[0.0]]) == "OK" and state_of(kill, [[1.0]]) == "ALARM"
    assert state_of(kill, [[]]) == "OK"  # no settlement this hour: the stale alarm's business
    assert state_of(clamps, [[1.0] * 50]) == "OK" and state_of(clamps, [[1.0] * 51]) == "ALARM"
    assert {a.runbook for a in (kill, clamps, BOOK.alarm("pricing-settle-stale"))} == {"pricing-experiment"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_given_local_degraded_decisions_then_the_alarm_and_its_composite_fire_then_clear(tmp_path) -> None:
    # Given the local evaluator at 60x (a 1-minute period is 1 s) and a sink file
    clock, said = Clock(), []
    metrics = LocalMetrics(clock)
    sink = LocalSink(tmp_path / "alerts.jsonl", say=said.append)
    acted = []
    alarms = LocalAlarms(metrics, sink, speedup=60, clock=clock, act=lambda *a: acted.append(a) or {})
    # When degraded decisions come in two of three periods
    for second in (0.1, 1.1):
        clock.now = 1000 + second
        metrics.add("DegradedScoring", 1)
    clock.now = 1002.5
    alerts = alarms.evaluate()
    # Then degraded-scoring fires (as a member) and its composite pages, printed and kept in the file
    assert [(a["alarm"], a["state"], a["pages"]) for a in alerts] == [
        ("ticketguard-local-degraded-scoring", "ALARM", False),
        ("ticketguard-local-scoring-degraded", "ALARM", True),
    ]
    kept = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [k["alarm"] for k in kept] == [a["alarm"] for a in alerts]
    assert kept[0]["runbook"] == "docs/runbooks/scoring-degraded.md" and "[alert] ALARM" in said[0]
    assert acted and acted[0][:2] == ("degraded-scoring", "ALARM")
    # When three periods pass without any, Then both clear (OK is delivered too)
    clock.now = 1010
    assert [(a["alarm"], a["state"]) for a in alarms.evaluate()] == [
        ("ticketguard-local-degraded-scoring", "OK"),
        ("ticketguard-local-scoring-degraded", "OK"),
    ]
    assert alarms.evaluate() == []  # no change, no alert


def test_given_the_powertools_metrics_then_install_records_what_the_functions_add() -> None:
    from aws_lambda_powertools import Metrics

    metrics = Metrics(namespace="Test", service="test")
    recorded = LocalMetrics()
    recorded.install(metrics)
    metrics.add_metric(name="DegradedScoring", unit="Count", value=1)
    assert recorded.between("DegradedScoring", 0, float("inf")) == [1.0]

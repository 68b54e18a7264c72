"""Schedules (spec 6.3), alert topics, the four alarms (spec 4.2) and the dashboard (spec 4.1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from infra.functions import CATALOG
from shared.features.cadence import DAILY, HOURLY
from shared.jobs.events import parse_job
from shared.jobs.schedules import SCHEDULES
from shared.oncall.definitions import load_alarm_book
from tooling.local.schedules import JOBS, scheduled_event

pytestmark = pytest.mark.xdist_group("infra")


def _rules(synth) -> dict[str, dict]:
    return {r["Properties"]["Name"]: r["Properties"] for r in synth.resources("AWS::Events::Rule").values()}


def test_given_the_spec_cron_table_then_each_deployed_job_has_its_schedule_in_utc(dev_synth):
    expected = {
        "etl-daily": ("etl", "cron(0 2 * * ? *)", {"mode": "daily"}),  # spec: daily ETL 02:00
        "etl-hourly": ("etl", "cron(0 0-1,3-23 * * ? *)", {"mode": "hourly"}),
        "features-daily": ("features", "cron(20 2 * * ? *)", {"mode": "daily"}),
        "features-hourly": ("features", "cron(20 0-1,3-23 * * ? *)", {"mode": "hourly"}),  # spec: hourly
        "refresh-views": ("refresh_views", "rate(5 minutes)", None),  # spec: every 5 minutes
        "retention": ("retention", "cron(0 3 ? * SUN *)", None),  # spec: weekly, Sunday 03:00
        "model-ops": ("model_ops", "cron(40 * * * ? *)", None),  # issue 17: quality, watchdog (hourly)
        "siem-poll": ("siem", "rate(1 minute)", None),  # issue 25: the SIEM's database sources
        "soar-lift": ("soar", "rate(5 minutes)", None),  # issue 25: lapsed blocks lifted
        "pricing-settle": ("pricing_settle", "cron(50 * * * ? *)", None),  # issue 28: rewards settled hourly
        "retrain": (
            "state machine retrain",  # the retraining pipeline (infra/retrain.py)
            "cron(0 2 ? * SUN *)",
            {"cadence": "biweekly"},
        ),  # spec: bi-weekly Sunday 02:00
    }
    assert {
        s.name: (s.function or f"state machine {s.state_machine}", s.expression, s.payload) for s in SCHEDULES
    } == expected
    rules = _rules(dev_synth)
    descriptions = {
        r["Properties"].get("Description") for r in dev_synth.resources("AWS::Lambda::Function").values()
    }
    deployed = {spec.name for spec in CATALOG if spec.description in descriptions}
    deployed |= {f"state machine {name}" for name in _state_machines(dev_synth)}
    for name, (function, expression, payload) in expected.items():
        rule = rules.get(f"ticketguard-dev-{name}")
        if function not in deployed:
            assert rule is None, f"{name}: a rule without a target"
            continue
        assert rule is not None, name
        assert rule["ScheduleExpression"] == expression
        [target] = rule["Targets"]
        assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 2
        if function in {"features", "retention"}:
            # the feature jobs also get the rule's firing time, which picks their snapshot slot; retention
            # (whose rule starts the loop of its rounds) takes it as its `as_of`
            transformer = target["InputTransformer"]
            assert transformer["InputPathsMap"] == {"time": "$.time"}
            template = transformer["InputTemplate"].replace("<time>", '"2026-03-02T02:20:00Z"')
            assert json.loads(template) == {**(payload or {}), "scheduled_at": "2026-03-02T02:20:00Z"}
        else:
            assert (json.loads(target["Input"]) if "Input" in target else None) == payload


def _state_machines(synth) -> set[str]:
    return {
        machine["Properties"]["StateMachineName"].removeprefix(f"ticketguard-{synth.config.name}-")
        for machine in synth.resources("AWS::StepFunctions::StateMachine").values()
    }


def test_given_the_feature_schedules_then_they_run_at_the_publish_delay_training_assumes():
    # Given each feature rule's cron, When it fires at its first minute of a day
    crons = {s.name: s.expression for s in SCHEDULES}
    daily_minute, daily_hour = crons["features-daily"].removeprefix("cron(").split()[:2]
    hourly_minute = crons["features-hourly"].removeprefix("cron(").split()[0]
    fired_daily = datetime(2026, 3, 2, int(daily_hour), int(daily_minute), tzinfo=UTC)
    fired_hourly = datetime(2026, 3, 2, 5, int(hourly_minute), tzinfo=UTC)
    # Then at that moment the slot in force is the one just finished, not the previous one
    assert DAILY.snapshot_at(fired_daily) == datetime(2026, 3, 2, tzinfo=UTC)
    assert HOURLY.snapshot_at(fired_hourly) == datetime(2026, 3, 2, 5, tzinfo=UTC)
    assert HOURLY.snapshot_at(fired_daily) == datetime(2026, 3, 2, int(daily_hour), tzinfo=UTC)
    # And the scheduled event's time reaches the job as scheduled_at
    [daily_job] = [j for j in JOBS if j.name == "features-daily"]
    assert parse_job(scheduled_event(daily_job, fired_daily)).scheduled_at == fired_daily


def test_given_the_etl_jobs_then_the_schedule_inputs_parse_as_their_job_events():
    for schedule in SCHEDULES:
        if schedule.function in {"etl", "features", "refresh_views"}:
            job = parse_job(dict(schedule.payload or {}))
            assert job.mode == (schedule.payload or {}).get("mode", "hourly")


def test_given_retraining_then_the_weekly_rule_says_biweekly_to_the_pipeline():
    [retrain] = [s for s in SCHEDULES if s.state_machine == "retrain"]
    assert retrain.payload == {"cadence": "biweekly"}
    assert retrain.expression == "cron(0 2 ? * SUN *)"


def test_given_three_severities_then_each_topic_is_kms_encrypted_tls_only_and_subscribed(dev_synth):
    topics = {
        t["Properties"]["TopicName"]: t["Properties"] for t in dev_synth.resources("AWS::SNS::Topic").values()
    }
    assert set(topics) == {f"ticketguard-dev-{s}" for s in ("critical", "high", "medium")}
    assert all("KmsMasterKeyId" in t for t in topics.values())
    subscriptions = [s["Properties"] for s in dev_synth.resources("AWS::SNS::Subscription").values()]
    endpoints = dev_synth.config.alarm_endpoints
    emails = [s for s in subscriptions if s["Protocol"] == "email"]
    assert len(emails) == len(endpoints.critical) + len(endpoints.high) + len(endpoints.medium)
    # (the other channels, SMS, PagerDuty and Slack: tests/infra/test_oncall.py)
    for policy in dev_synth.resources("AWS::SNS::TopicPolicy").values():
        assert "aws:SecureTransport" in json.dumps(policy)


def _alarms(synth) -> dict[str, dict]:
    return {
        a["Properties"]["AlarmName"].removeprefix("ticketguard-dev-"): a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
    }


def _topic_of(alarm: dict) -> str:
    [action] = alarm["AlarmActions"]
    return json.dumps(action)


def test_given_the_fraud_rate_alarm_then_it_fires_above_3_percent_for_10_minutes_to_high(dev_synth):
    alarm = _alarms(dev_synth)["fraud-rate-spike"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "TicketGuard",
        "FraudRate",
        "Average",
    )
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "ticketguard"}]
    assert alarm["Threshold"] == 3 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 600 and alarm["DatapointsToAlarm"] == 2
    assert "ticketguard-dev-high" in _topic_of(alarm)


def test_given_the_latency_alarm_then_it_fires_on_p95_above_100ms_for_5_minutes_to_medium(dev_synth):
    alarm = _alarms(dev_synth)["api-latency-high"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["ExtendedStatistic"]) == (
        "AWS/ApiGateway",
        "Latency",
        "p95",
    )
    assert alarm["Threshold"] == 100 and alarm["Period"] * alarm["EvaluationPeriods"] == 300
    assert {d["Name"] for d in alarm["Dimensions"]} == {"ApiName", "Stage"}
    assert "ticketguard-dev-medium" in _topic_of(alarm)


def test_given_the_drift_alarm_then_it_fires_above_kl_0_15_to_medium(dev_synth):
    alarm = _alarms(dev_synth)["model-drift"]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "ModelDriftKL",
        0.15,
        "GreaterThanThreshold",
    )
    assert "ticketguard-dev-medium" in _topic_of(alarm)


def test_given_the_admin_mfa_alarm_then_three_failures_in_5_minutes_page_critical(dev_synth):
    alarm = _alarms(dev_synth)["failed-admin-mfa"]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    assert metrics["expr_1"]["Expression"] == "FILL(cognito, 0) + FILL(functions, 0)"
    for source, dimensions in (
        ("cognito", None),
        ("functions", [{"Name": "service", "Value": "ticketguard"}]),
    ):
        stat = metrics[source]["MetricStat"]
        assert (
            stat["Metric"]["MetricName"] == "FailedAdminMfa" and stat["Metric"]["Namespace"] == "TicketGuard"
        )
        assert stat["Metric"].get("Dimensions") == dimensions
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)
    assert alarm["Threshold"] == 3 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert "ticketguard-dev-critical" in _topic_of(alarm)


def test_given_every_alarm_then_missing_data_is_not_a_breach_but_for_a_heartbeat_and_recovery_is_announced(
    dev_synth,
):
    # A heartbeat's alarm (alarms.yaml missing_data: breaching) fires on the heartbeat's absence
    heartbeats = {a.name for a in load_alarm_book().alarms if a.missing_data == "breaching"}
    assert heartbeats == {"pricing-settle-stale"}
    for name, alarm in _alarms(dev_synth).items():
        assert alarm["TreatMissingData"] == ("breaching" if name in heartbeats else "notBreaching"), name
        # (no action at all: a composite alarm pages for it, tests/infra/test_oncall.py)
        assert alarm.get("OKActions") == alarm.get("AlarmActions"), name


def test_given_the_dashboard_then_it_has_the_six_sections_of_the_spec(dev_synth):
    [dashboard] = dev_synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for section in (
        "1. Key performance indicators",
        "2. Real-time fraud detection",
        "3. API rate limiting and traffic",
        "4. Model performance",
        "5. System health",
        "6. Security events (SIEM feed)",
    ):
        assert section in body
    for widget in ("Top 5 IPs", "Recent high-risk transactions", "Confusion matrix", "Feature drift"):
        assert widget in body

"""`ticketguard smoke --alarm` (issue 22): set an alarm's state, read its history, report whether the
notification reached its topic. Against moto as far as it goes: moto creates, describes and sets alarms,
but does not implement DescribeAlarmHistory, so that one call answers here in the shape CloudWatch
documents (AlarmHistoryItems with HistoryItemType Action), from the state moto holds at that moment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tooling.smoke import alarm_check
from tooling.smoke_alarm import check_alarm_notification

ALARM = "ticketguard-dev-job-dead-letters"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ticketguard-dev-high"


class CloudWatch:
    """moto's CloudWatch, with DescribeAlarmHistory answered from what SNS would have done: an action item
    for each time the alarm was in ALARM when the history was read."""

    def __init__(self, client: Any, *, publish_allowed: bool | None) -> None:
        self.client = client
        self.publish_allowed = publish_allowed  # None: CloudWatch has recorded no action (yet)
        self.history_calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def describe_alarm_history(self, **kwargs: Any) -> dict[str, Any]:
        self.history_calls.append(kwargs)
        [alarm] = self.client.describe_alarms(AlarmNames=[kwargs["AlarmName"]])["MetricAlarms"]
        if self.publish_allowed is None or alarm["StateValue"] != "ALARM":
            return {"AlarmHistoryItems": []}
        if self.publish_allowed:
            summary, data = f"Successfully executed action {TOPIC}", {"actionState": "Succeeded"}
        else:
            summary = f"Failed to execute action {TOPIC}"
            data = {
                "actionState": "Failed",
                "notificationResource": TOPIC,
                "error": "CloudWatch Alarms is not authorized to perform: SNS:Publish on resource:"
                f"{TOPIC} because no resource-based policy allows the SNS:Publish action",
            }
        return {
            "AlarmHistoryItems": [
                {
                    "AlarmName": kwargs["AlarmName"],
                    "AlarmType": "MetricAlarm",
                    "Timestamp": alarm["StateUpdatedTimestamp"],
                    "HistoryItemType": "Action",
                    "HistorySummary": summary,
                    "HistoryData": json.dumps(data),
                }
            ]
        }


@pytest.fixture
def moto_cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="eu-west-1")
        client.put_metric_alarm(
            AlarmName=ALARM,
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": "ticketguard-dev-job-dead-letters"}],
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[TOPIC],
            OKActions=[TOPIC],
        )
        yield client


def _no_wait() -> dict[str, Any]:
    ticks = iter(range(0, 10_000, 5))
    return {"clock": lambda: float(next(ticks)), "sleep": lambda _: None, "timeout_s": 20, "poll_s": 5}


def test_given_a_topic_that_lets_cloudwatch_publish_when_checked_then_it_passes_and_the_alarm_is_reset(
    moto_cloudwatch: Any,
) -> None:
    cloudwatch = CloudWatch(moto_cloudwatch, publish_allowed=True)
    passed, detail = check_alarm_notification(cloudwatch, ALARM, **_no_wait())
    # Then the action is reported, the history was read for actions only, and the alarm is back to OK
    assert passed and detail == f"Successfully executed action {TOPIC}"
    assert cloudwatch.history_calls[0]["HistoryItemType"] == "Action"
    [alarm] = moto_cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    assert alarm["StateValue"] == "OK" and alarm["StateReason"] == "ticketguard smoke: done"


def test_given_a_topic_policy_that_refuses_cloudwatch_when_checked_then_it_fails_saying_why(
    moto_cloudwatch: Any,
) -> None:
    passed, detail = check_alarm_notification(
        CloudWatch(moto_cloudwatch, publish_allowed=False), ALARM, **_no_wait()
    )
    assert not passed and "no resource-based policy allows the SNS:Publish action" in detail


def test_given_no_action_recorded_when_checked_then_it_fails_after_the_timeout_and_resets(
    moto_cloudwatch: Any,
) -> None:
    cloudwatch = CloudWatch(moto_cloudwatch, publish_allowed=None)
    passed, detail = check_alarm_notification(cloudwatch, ALARM, **_no_wait())
    assert not passed and "no notification action recorded within 20 s" in detail
    assert len(cloudwatch.history_calls) > 1
    [alarm] = moto_cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    assert alarm["StateValue"] == "OK"


@pytest.mark.parametrize(
    ("alarm", "says"),
    [
        ("ticketguard-dev-nothing-like-it", "no alarm named"),
        ("ticketguard-dev-model-drift", "starts a retraining or a rollback"),
        ("ticketguard-prod-fraud-rate-spike", "starts a retraining or a rollback"),
    ],
)
def test_given_an_alarm_it_must_not_fire_when_checked_then_it_is_refused_untouched(
    moto_cloudwatch: Any, alarm: str, says: str
) -> None:
    cloudwatch = CloudWatch(moto_cloudwatch, publish_allowed=True)
    passed, detail = check_alarm_notification(cloudwatch, alarm, **_no_wait())
    assert not passed and says in detail and cloudwatch.history_calls == []


def test_given_the_smoke_cli_check_then_it_reports_one_line_for_the_alarm(moto_cloudwatch: Any) -> None:
    check = alarm_check(ALARM, cloudwatch=CloudWatch(moto_cloudwatch, publish_allowed=True))
    assert check.passed and check.line().startswith(
        f"PASS alarm notification: Successfully executed action {TOPIC}"
    )

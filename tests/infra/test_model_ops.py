"""The model-ops function in the templates (issue 17): its schedule, what it may touch (ROLLOUT.json, the
retraining state machine), the EventBridge rule that hands it the alarms' state changes, and the
detection-drop alarm."""

from __future__ import annotations

from typing import Any

import pytest

from infra.model_access import MODEL_ARCHITECTURES, POINTER_KEY, ROLLOUT_KEY
from shared.model.layout import library_name
from tests.infra.test_retrain import _grants, _role_of_function, _service, _statements, flat

pytestmark = pytest.mark.xdist_group("infra")


def _function(synth, name: str) -> dict[str, Any]:
    [found] = [
        r["Properties"]
        for r in _service(synth).values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == f"functions.{name}.handler.handler"
    ]
    return found


def test_given_the_model_ops_function_then_it_reads_the_model_writes_only_rollout_and_starts_the_pipeline(
    dev_synth,
):
    function = _function(dev_synth, "model_ops")
    # it reaches Step Functions through the NAT, as the ETL reaches the chain
    assert function["VpcConfig"]["SubnetIds"] == _function(dev_synth, "etl")["VpcConfig"]["SubnetIds"]
    variables = function["Environment"]["Variables"]
    assert "TG_MODEL_REGISTRY" in variables and "TG_DB_SECRET_ARN" in variables
    assert "RetrainStateMachine" in flat(variables["TG_RETRAIN_STATE_MACHINE_ARN"])
    statements = _statements(dev_synth, _role_of_function(dev_synth, "model_ops"))
    library = library_name(MODEL_ARCHITECTURES["arm64"])
    assert _grants(statements) == {
        ("s3:GetObject", f"archive/{POINTER_KEY}"),
        ("s3:GetObject", f"archive/{ROLLOUT_KEY}"),
        ("s3:GetObject", "archive/models/*/manifest.json"),
        ("s3:GetObject", f"archive/models/*/{library}"),
        ("s3:ListBucket", f"archive prefix={POINTER_KEY}"),
        ("s3:PutObject", f"archive/{ROLLOUT_KEY}"),  # the watchdog's rollback; never CURRENT
    }
    [start] = [s for s in statements if s["Action"] == "states:StartExecution"]
    assert "RetrainStateMachine" in flat(start["Resource"])


def test_given_the_alarm_trigger_then_model_alarms_reach_the_model_ops_function_and_each_named_alarm_exists(
    dev_synth,
):
    [rule] = [
        r["Properties"]
        for r in _service(dev_synth).values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"].get("Name") == "ticketguard-dev-model-ops-alarms"
    ]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.cloudwatch"] and pattern["detail-type"] == [
        "CloudWatch Alarm State Change"
    ]
    assert pattern["detail"]["state"] == {"value": ["ALARM"]}
    names = set(pattern["detail"]["alarmName"])
    assert {"ticketguard-dev-model-drift", "ticketguard-dev-model-detection-drop"} <= names
    alarms = {a["Properties"]["AlarmName"] for a in dev_synth.resources("AWS::CloudWatch::Alarm").values()}
    assert names <= alarms, f"the rule names alarms that do not exist: {sorted(names - alarms)}"
    [target] = rule["Targets"]
    assert "FunctionsModelOps" in flat(target["Arn"]) and "Arn" in target["DeadLetterConfig"]


def test_given_the_detection_drop_alarm_then_it_fires_over_ten_percent_of_the_baseline(dev_synth):
    [alarm] = [
        a["Properties"]
        for a in dev_synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == "ticketguard-dev-model-detection-drop"
    ]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == (
        "ModelDetectionDrop",
        "Maximum",
        10,
    )
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["AlarmActions"]

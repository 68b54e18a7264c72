"""Security operations in the synthesized templates (issue 25): the SIEM and SOAR functions, the
subscription filters that feed the SIEM, the EventBridge rule that feeds the SOAR, least-privilege
IAM (wafv2:UpdateIPSet on the two IP sets only), the WAF challenge rule, the alarms on their errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.security_ops import FINDING_DETAIL_TYPE, FINDING_SOURCE
from shared.siem.publish import DETAIL_TYPE, SOURCE

pytestmark = pytest.mark.xdist_group("infra")


def _function_logical_id(synth: Any, name: str) -> str:
    [logical] = [
        logical
        for logical, fn in synth.resources("AWS::Lambda::Function").items()
        if fn["Properties"].get("FunctionName") == f"ticketguard-dev-{name}"
    ]
    return logical


def _role_statements(synth: Any, function: str) -> list[dict[str, Any]]:
    role = synth.resources("AWS::Lambda::Function")[_function_logical_id(synth, function)]["Properties"][
        "Role"
    ]
    role_id = role["Fn::GetAtt"][0]
    statements = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_given_the_templates_then_the_siem_hears_the_four_log_groups_and_the_soar_the_findings(dev_synth):
    filters = dev_synth.resources("AWS::Logs::SubscriptionFilter")
    siem = _function_logical_id(dev_synth, "siem")
    assert {f["Properties"]["FilterName"] for f in filters.values()} == {
        "access-to-siem", "scoring-to-siem", "waf-to-siem", "cognito-mfa-to-siem",
    }  # fmt: skip
    assert all(f["Properties"]["DestinationArn"] == {"Fn::GetAtt": [siem, "Arn"]} for f in filters.values())
    # The finding rule matches what the SIEM publishes, and targets the SOAR function
    assert (FINDING_SOURCE, FINDING_DETAIL_TYPE) == (SOURCE, DETAIL_TYPE)
    [rule] = [
        r for r in dev_synth.resources("AWS::Events::Rule").values()
        if "EventPattern" in r["Properties"] and r["Properties"]["EventPattern"].get("source") == [SOURCE]
    ]  # fmt: skip
    assert rule["Properties"]["EventPattern"]["detail-type"] == [DETAIL_TYPE]
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [_function_logical_id(dev_synth, "soar"), "Arn"]}
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 4


def test_given_the_soar_role_then_it_updates_only_the_two_ip_sets_and_the_admin_pool(dev_synth):
    statements = _role_statements(dev_synth, "soar")
    waf = [s for s in statements if any(str(a).startswith("wafv2:") for a in _list(s["Action"]))]
    assert [sorted(_list(s["Action"])) for s in waf] == [["wafv2:GetIPSet", "wafv2:UpdateIPSet"]]
    sets = {
        logical: props["Properties"]["Name"]
        for logical, props in dev_synth.resources("AWS::WAFv2::IPSet").items()
    }
    granted = {ref["Fn::GetAtt"][0] for ref in _list(waf[0]["Resource"])}
    assert {sets[logical] for logical in granted} == {
        "ticketguard-dev-blocklist",
        "ticketguard-dev-challenge",
    }
    cognito = [s for s in statements if any(str(a).startswith("cognito-idp:") for a in _list(s["Action"]))]
    assert [sorted(_list(s["Action"])) for s in cognito] == [
        ["cognito-idp:AdminDisableUser", "cognito-idp:AdminEnableUser"]
    ]
    assert all(s["Resource"] != "*" for s in waf + cognito)
    # And no other function may touch WAF
    for name in ("siem", "score", "etl"):
        assert not any("wafv2" in json.dumps(s["Action"]) for s in _role_statements(dev_synth, name)), name


def test_given_the_web_acl_then_the_challenge_set_is_challenged(dev_synth):
    [acl] = dev_synth.resources("AWS::WAFv2::WebACL").values()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    assert rules["ChallengeList"]["Action"] == {"Challenge": {}}
    assert rules["BlockList"]["Priority"] < rules["ChallengeList"]["Priority"] < 10


def test_given_the_two_functions_then_their_errors_page_and_their_schedules_exist(dev_synth):
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in dev_synth.resources("AWS::CloudWatch::Alarm").values()
    }
    for name in ("siem", "soar"):
        alarm = alarms[
            f"ticketguard-dev-{name}-function-errors"
        ]  # shared/oncall/alarms.yaml's function-errors
        assert alarm["MetricName"] == "Errors" and alarm["Threshold"] == 0
    names = {r["Properties"].get("Name") for r in dev_synth.resources("AWS::Events::Rule").values()}
    assert {"ticketguard-dev-siem-poll", "ticketguard-dev-soar-lift"} <= names
    soar_env = dev_synth.resources("AWS::Lambda::Function")[_function_logical_id(dev_synth, "soar")][
        "Properties"
    ]
    variables = soar_env["Environment"]["Variables"]
    assert {
        "TG_WAF_IP_SET_ID",
        "TG_WAF_CHALLENGE_IP_SET_ID",
        "TG_COGNITO_USER_POOL_ID",
        "TG_SOAR_NEVER_BLOCK",
    } <= set(variables)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]

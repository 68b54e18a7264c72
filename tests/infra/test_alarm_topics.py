"""Issue 22, finding 1: every alarm can reach on-call. `enforce_ssl` gives each severity topic a policy
holding a Deny only, and a topic policy replaces SNS's default one: unless the policy allows CloudWatch to
publish, every alarm action fails ("no resource-based policy allows the SNS:Publish action")."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("infra")

ACCOUNT, REGION, PARTITION = "123456789012", "eu-west-1", "aws"


def _render(value: Any, synth: Any) -> str:
    """A template value as text, pseudo parameters filled in; an import of a foundation export becomes
    the exported topic's ARN."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        [(function, argument)] = value.items()
        if function == "Ref":
            pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION}
            if argument in pseudo:
                return pseudo[argument]
            topics = synth.resources("AWS::SNS::Topic", stack="Foundation")
            name = topics[argument]["Properties"]["TopicName"]
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{name}"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(_render(part, synth) for part in parts)
        if function == "Fn::ImportValue":
            outputs = synth.stack("Foundation")["Outputs"]
            [output] = [o for o in outputs.values() if o.get("Export", {}).get("Name") == argument]
            return _render(output["Value"], synth)
    raise AssertionError(f"cannot render {value!r}")


def _publishers(synth: Any) -> dict[str, list[dict[str, Any]]]:
    """Topic ARN -> the Allow statements of its topic policy."""
    allowed: dict[str, list[dict[str, Any]]] = {}
    for policy in synth.resources("AWS::SNS::TopicPolicy", stack="Foundation").values():
        statements = [
            s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
        ]
        for topic in policy["Properties"]["Topics"]:
            allowed[_render(topic, synth)] = statements
    return allowed


def _allows_alarm(statement: dict[str, Any], alarm_arn: str, synth: Any) -> bool:
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    condition = statement.get("Condition", {})
    source_arn = condition.get("ArnLike", {}).get("aws:SourceArn")
    return (
        statement.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        and "sns:Publish" in actions
        and _render(condition.get("StringEquals", {}).get("aws:SourceAccount", ""), synth) == ACCOUNT
        and source_arn is not None
        and fnmatch.fnmatchcase(alarm_arn, _render(source_arn, synth))
    )


@pytest.mark.parametrize("synth_name", ["dev_synth", "prod_synth"])
def test_given_every_alarm_then_its_action_topics_allow_cloudwatch_to_publish_for_it(synth_name, request):
    # Given every alarm of the environment (all three stacks) and the topic policies
    synth = request.getfixturevalue(synth_name)
    publishers = _publishers(synth)
    alarms = {
        **synth.resources("AWS::CloudWatch::Alarm"),
        **synth.resources("AWS::CloudWatch::CompositeAlarm"),
    }
    assert len(alarms) >= 6
    refused = []
    for alarm in alarms.values():
        props = alarm["Properties"]
        alarm_arn = f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:{props['AlarmName']}"
        actions = [*props.get("AlarmActions", []), *props.get("OKActions", [])]
        # (an alarm with no action is a composite's member: tests/infra/test_oncall.py holds it to one)
        for action in actions:
            topic = _render(action, synth)
            # Then the topic's policy allows cloudwatch.amazonaws.com to publish, for this account's
            # alarm only (source account and source ARN), beside the TLS-only Deny
            statements = publishers.get(topic, [])
            if not any(_allows_alarm(statement, alarm_arn, synth) for statement in statements):
                refused.append((props["AlarmName"], topic))
    assert not refused, f"alarm actions the topic policy refuses: {refused}"


def test_given_the_topic_policies_then_they_allow_no_one_else_and_keep_the_tls_deny(dev_synth):
    for policy in dev_synth.resources("AWS::SNS::TopicPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        allows = [s for s in statements if s["Effect"] == "Allow"]
        denies = [s for s in statements if s["Effect"] == "Deny"]
        # exactly the publishers: CloudWatch alarms (no EventBridge rule targets a topic; the retraining
        # state machine publishes under its role's identity policy, which suffices within the account)
        assert [s["Principal"] for s in allows] == [{"Service": "cloudwatch.amazonaws.com"}]
        assert "aws:SecureTransport" in json.dumps(denies)

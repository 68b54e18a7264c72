"""On-call (issue 27) on the synthesized templates: every alarm says its severity, its action and its
runbook (a file that exists), pages its severity's topic or a composite that does; the components'
availability and saturation alarms, the composites and the SLO burn-rate alarms are there, within
CloudWatch's limits for metric-math and composite alarms."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.oncall.definitions import ACTIONS, load_alarm_book, slo_alarm_name

pytestmark = pytest.mark.xdist_group("infra")

ROOT = Path(__file__).resolve().parents[2]
BOOK = load_alarm_book()
TAIL = re.compile(r"\| (CRITICAL|HIGH|MEDIUM) \| action: (.+?) \| runbook: (\S+)$")


def _alarms(synth, kind: str = "AWS::CloudWatch::Alarm") -> dict[str, dict]:
    return {
        a["Properties"]["AlarmName"].removeprefix(f"ticketguard-{synth.config.name}-"): a["Properties"]
        for a in synth.resources(kind).values()
    }


def _composites(synth) -> dict[str, dict]:
    return _alarms(synth, "AWS::CloudWatch::CompositeAlarm")


def _rule(composite: dict, synth=None) -> str:
    """The composite's rule with each member alarm's ARN (Fn::GetAtt of its logical id) as its name."""
    rule = composite["AlarmRule"]
    text = rule if isinstance(rule, str) else json.dumps(rule)
    if synth is None:
        return text
    names = {
        lid: a["Properties"]["AlarmName"] for lid, a in synth.resources("AWS::CloudWatch::Alarm").items()
    }
    return re.sub(r'\{"Fn::GetAtt": \["(\w+)", "Arn"\]\}', lambda m: names.get(m.group(1), m.group(1)), text)


def _topic(actions: list) -> str | None:
    if not actions:
        return None
    [action] = actions
    found = re.search(r"ticketguard-\w+-(critical|high|medium)", json.dumps(action))
    return found.group(1) if found else None


@pytest.mark.parametrize("synth_fixture", ["dev_synth", "prod_synth"])
def test_given_every_alarm_then_it_has_a_runbook_file_a_severity_and_an_action(synth_fixture, request):
    synth = request.getfixturevalue(synth_fixture)
    # Given every alarm and composite alarm of the templates
    every = {**_alarms(synth), **_composites(synth)}
    assert len(every) > 40
    for name, alarm in every.items():
        # Then its description ends with severity, action and runbook link
        tail = TAIL.search(alarm["AlarmDescription"])
        assert tail, f"{name}: {alarm['AlarmDescription']!r}"
        severity, action, runbook = tail.groups()
        assert action in ACTIONS.values(), name
        # And the runbook is a file of the repository that names the alarm
        path = ROOT / runbook
        assert path.is_file(), f"{name}: no runbook {runbook}"
        # And what it pages is its severity's topic (or nothing: a composite pages for it)
        paged = _topic(alarm.get("AlarmActions", []))
        assert paged in (severity.lower(), None), name
        if paged is not None:
            assert _topic(alarm["OKActions"]) == paged, f"{name}: recovery not announced"


def test_given_alarms_that_page_nothing_then_a_composite_that_pages_names_each(dev_synth):
    composites = _composites(dev_synth)
    rules = " ".join(_rule(c, dev_synth) for c in composites.values())
    assert all(_topic(c["AlarmActions"]) for c in composites.values())
    silent = [name for name, alarm in _alarms(dev_synth).items() if not alarm.get("AlarmActions")]
    assert silent, "no alarm is grouped under a composite"
    for name in silent:
        assert f"ticketguard-dev-{name}" in rules, f"{name} pages nothing and no composite names it"


def test_given_each_component_then_its_availability_and_saturation_alarms_exist(dev_synth):
    alarms = _alarms(dev_synth)
    by_metric = {(a.get("Namespace"), a.get("MetricName")) for a in alarms.values()}
    for expected in (
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Duration"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/RDS", "CPUUtilization"),
        ("AWS/RDS", "FreeStorageSpace"),
        ("AWS/RDS", "DatabaseConnections"),
        ("AWS/RDS", "DatabaseConnectionsBorrowLatency"),
        ("AWS/RDS", "ClientConnectionsSetupFailedAuth"),
        ("AWS/ElastiCache", "DatabaseMemoryUsagePercentage"),
        ("AWS/ElastiCache", "Evictions"),
        ("TicketGuard", "DependencyUnavailable"),
        ("TicketGuard", "DegradedScoring"),
        ("TicketGuard", "RateLimitFallback"),
    ):
        assert expected in by_metric, expected
    # Each deployed function has its errors, throttles and duration alarm
    watched = " ".join(
        json.dumps(a["Dimensions"])
        for a in alarms.values()
        if a.get("Namespace") == "AWS/Lambda" and a["MetricName"] in {"Errors", "Throttles", "Duration"}
    )
    deployed = {
        f["Properties"]["FunctionName"]
        for f in dev_synth.resources("AWS::Lambda::Function").values()
        if str(f["Properties"].get("FunctionName", "")).startswith("ticketguard-dev-")
    }
    assert deployed
    for function in deployed:
        assert watched.count(f'"{function}"') == 3, function
    # The duration alarm is 80% of the function's timeout
    assert alarms["etl-function-duration"]["Threshold"] == 900 * 1000 * 0.8
    assert alarms["etl-function-duration"]["ExtendedStatistic"] == "p99"


def test_given_one_outage_then_one_page_through_the_api_outage_composite(dev_synth):
    api_outage = _composites(dev_synth)["api-outage"]
    rule = _rule(api_outage, dev_synth)
    for member in ("api-5xx", "score-errors", "score-throttles", "proxy-borrow-latency"):
        assert f"ticketguard-dev-{member}" in rule
        assert not _alarms(dev_synth)[member].get("AlarmActions")
    assert " OR " in rule and _topic(api_outage["AlarmActions"]) == "critical"


def test_given_the_sla_then_fast_and_slow_burn_rate_alarms_for_availability_and_latency(dev_synth):
    alarms, composites = _alarms(dev_synth), _composites(dev_synth)
    windows = {w.name: w for w in BOOK.burn_windows}
    assert set(windows) == {"fast", "slow"}
    for slo in BOOK.slos:
        for window in BOOK.burn_windows:
            name = slo_alarm_name(slo, window)
            composite = composites[name]
            rule = _rule(composite, dev_synth)
            assert " AND " in rule  # both the long and the short window burn
            assert _topic(composite["AlarmActions"]) == window.severity
            for length, minutes in (("long", window.long_minutes), ("short", window.short_minutes)):
                alarm = alarms[f"{name}-{length}"]
                assert alarm["Threshold"] == window.burn_rate
                [expression] = [
                    m for m in alarm["Metrics"] if m.get("ReturnData", True) and "Expression" in m
                ]
                stats = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
                assert {s["Period"] for s in stats} == {minutes * 60}
                if slo.latency_ms is None:
                    assert "/ 0.1" in expression["Expression"]  # a 99.9% objective's budget
                    assert {s["Metric"]["MetricName"] for s in stats} == {"5XXError", "Count"}
                else:
                    assert [s["Stat"] for s in stats] == ["PR(0:50)"]  # share of requests within 50 ms
                    assert "/ 5" in expression["Expression"]
    assert windows["fast"].burn_rate == 14.4 and windows["slow"].burn_rate == 6


def test_given_every_alarm_then_it_is_within_cloudwatch_limits(dev_synth):
    for name, alarm in _alarms(dev_synth).items():
        metrics = alarm.get("Metrics") or []
        # metric math: at most 10 metrics, 20 queries, all of one period
        assert len([m for m in metrics if "MetricStat" in m]) <= 10, name
        assert len(metrics) <= 20, name
        periods = {m["MetricStat"]["Period"] for m in metrics if "MetricStat" in m} | (
            {alarm["Period"]} if "Period" in alarm else set()
        )
        assert len(periods) == 1, name
        [period] = periods
        assert period * alarm["EvaluationPeriods"] <= 86_400, name
        assert len(alarm["AlarmDescription"]) <= 1024, name
    for name, composite in _composites(dev_synth).items():
        rule = _rule(composite, dev_synth)
        assert rule.count("ALARM(") <= 100, name


def test_given_the_drift_alarms_then_their_retrain_action_is_routed_to_the_model_ops_job(dev_synth):
    [rule] = [
        r["Properties"]
        for r in dev_synth.resources("AWS::Events::Rule").values()
        if r["Properties"].get("Name") == "ticketguard-dev-model-ops-alarms"
    ]
    routed = set(rule["EventPattern"]["detail"]["alarmName"])
    retrain = {f"ticketguard-dev-{a.name}" for a in BOOK.alarms if a.action == "retrain"}
    assert retrain and retrain <= routed


def _subscriptions(synth) -> list[tuple[str, str, str]]:
    """(protocol, severity of the topic, endpoint as text) of every SNS subscription."""
    topics = {lid: t["Properties"]["TopicName"] for lid, t in synth.resources("AWS::SNS::Topic").items()}
    found = []
    for sub in synth.resources("AWS::SNS::Subscription").values():
        props = sub["Properties"]
        topic = topics[props["TopicArn"]["Ref"]].rsplit("-", 1)[1]
        found.append((props["Protocol"], topic, json.dumps(props["Endpoint"])))
    return found


def test_given_prods_channels_then_sms_pages_critical_pagerduty_and_slack_hear_their_severities(prod_synth):
    channels = prod_synth.config.alarm_channels
    subscriptions = _subscriptions(prod_synth)
    # SMS: CRITICAL only, the numbers of cdk.json
    assert sorted((t, e) for p, t, e in subscriptions if p == "sms") == [
        ("critical", json.dumps(n)) for n in channels.sms
    ]
    # PagerDuty (Events v2): HTTPS to the URL of an SSM parameter (the routing key is not in the template)
    https = [(t, e) for p, t, e in subscriptions if p == "https"]
    assert sorted(t for t, _ in https) == sorted(channels.pagerduty.severities)
    assert all("events.pagerduty.com" not in e and "Ref" in e for _, e in https)
    parameters = prod_synth.stack("Foundation")["Parameters"]
    assert any(p.get("Default") == channels.pagerduty.url_parameter for p in parameters.values())
    # Slack through AWS Chatbot, on the severities' topics
    [slack] = [
        r["Properties"] for r in prod_synth.resources("AWS::Chatbot::SlackChannelConfiguration").values()
    ]
    assert (slack["SlackWorkspaceId"], slack["SlackChannelId"]) == (
        channels.slack.workspace_id,
        channels.slack.channel_id,
    )
    assert len(slack["SnsTopicArns"]) == len(channels.slack.severities)


def test_given_devs_channels_then_only_what_its_cdk_json_names(dev_synth):
    protocols = sorted({p for p, _, _ in _subscriptions(dev_synth)})
    assert protocols == ["email", "https"]
    assert not dev_synth.resources("AWS::Chatbot::SlackChannelConfiguration")


def test_given_the_fraud_spike_alarm_then_its_state_change_reaches_the_oncall_actions_function(dev_synth):
    [rule] = [
        r["Properties"]
        for r in dev_synth.resources("AWS::Events::Rule").values()
        if r["Properties"].get("Name") == "ticketguard-dev-oncall-actions"
    ]
    assert rule["EventPattern"]["detail"]["alarmName"] == ["ticketguard-dev-fraud-rate-spike"]
    assert rule["EventPattern"]["detail"]["state"] == {"value": ["ALARM"]}
    [target] = rule["Targets"]
    functions = {
        lid: f["Properties"].get("FunctionName")
        for lid, f in dev_synth.resources("AWS::Lambda::Function").items()
    }
    assert functions[target["Arn"]["Fn::GetAtt"][0]] == "ticketguard-dev-oncall-actions"
    assert "DeadLetterConfig" in target


@pytest.mark.parametrize("synth_fixture", ["dev_synth", "prod_synth"])
def test_given_high_latency_then_the_scoring_alias_provisioned_concurrency_scales(synth_fixture, request):
    synth = request.getfixturevalue(synth_fixture)
    capacity = synth.config.scoring_capacity
    # Given the scoring function behind its alias `live`
    [alias_id] = [
        lid for lid, a in synth.resources("AWS::Lambda::Alias").items() if a["Properties"]["Name"] == "live"
    ]
    # Then the API invokes the alias (provisioned concurrency serves only what calls the alias)
    [api] = synth.resources("AWS::ApiGateway::RestApi").values()
    predict = api["Properties"]["Body"]["paths"]["/api/v1/ml/predict/fraud"]["post"]
    assert alias_id in json.dumps(predict["x-amazon-apigateway-integration"]["uri"])
    # And Application Auto Scaling scales its provisioned concurrency between the configured bounds
    [target] = synth.resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    props = target["Properties"]
    assert props["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"
    assert props["ResourceId"] == f"function:ticketguard-{synth.config.name}-score:live"
    assert (props["MinCapacity"], props["MaxCapacity"]) == (capacity.min_capacity, capacity.max_capacity)
    # on the API's p95 latency, held under the latency alarm's threshold (target tracking: Lambda's
    # provisioned concurrency takes no step scaling)
    [policy] = synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    tracking = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    [query] = tracking["CustomizedMetricSpecification"]["Metrics"]
    stat = query["MetricStat"]
    assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"]) == (
        "AWS/ApiGateway",
        "Latency",
        "p95",
    )
    assert tracking["TargetValue"] == capacity.latency_target_ms < synth.config.alarms.api_latency_p95_ms

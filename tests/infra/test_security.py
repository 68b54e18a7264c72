"""WAF in front of the API; the admins' Cognito pool."""

from __future__ import annotations

import json

import pytest

from infra.security import MANAGED_RULE_GROUPS

pytestmark = pytest.mark.xdist_group("infra")


def _rules(synth) -> dict:
    [acl] = synth.resources("AWS::WAFv2::WebACL").values()
    assert acl["Properties"]["Scope"] == "REGIONAL"
    return {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}


KEY_HEADER = {"SingleHeader": {"Name": "x-api-key"}}


def _keyed(statement: dict) -> bool:
    size = statement["SizeConstraintStatement"]
    return size["FieldToMatch"] == KEY_HEADER and size["ComparisonOperator"] == "GT" and size["Size"] == 0


def _anonymous(statement: dict) -> bool:
    return _keyed(statement["NotStatement"]["Statement"])


def test_given_the_web_acl_then_a_rate_rule_blocks_more_than_100_requests_per_minute_per_ip(dev_synth):
    # Requests without an API key: the spec's 100/min per IP
    rule = _rules(dev_synth)["RatePerIp"]
    statement = dict(rule["Statement"]["RateBasedStatement"])
    assert _anonymous(statement.pop("ScopeDownStatement"))
    assert statement == {"AggregateKeyType": "IP", "Limit": 100, "EvaluationWindowSec": 60}
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429


def test_given_the_marketplace_backend_when_it_calls_at_its_plans_full_rate_then_no_waf_rule_throttles_it(
    dev_synth,
):
    # Given the backend: one address, an API key, up to its usage plan's rate (issue 11: the caller is
    # the backend, not the buyer)
    from shared.api.usage_plans import load_usage_plans

    fastest = max(plan.throttle.rate_limit for plan in load_usage_plans().usage_plans)
    rules = _rules(dev_synth)
    keyed = rules["RatePerIpKeyed"]["Statement"]["RateBasedStatement"]
    # Then the keyed requests' per-IP limit is above what the plan lets through in a window
    assert _keyed(keyed["ScopeDownStatement"])
    assert keyed["Limit"] > fastest * keyed["EvaluationWindowSec"]
    # And the anonymous-IP group (hosting providers: where a backend runs) judges anonymous requests only
    anonymous_ip = rules["AWSManagedRulesAnonymousIpList"]["Statement"]["ManagedRuleGroupStatement"]
    assert _anonymous(anonymous_ip["ScopeDownStatement"])


def test_given_the_web_acl_then_managed_common_and_anonymous_ip_groups_are_on(dev_synth):
    rules = _rules(dev_synth)
    for group in MANAGED_RULE_GROUPS:
        statement = dict(rules[group]["Statement"]["ManagedRuleGroupStatement"])
        statement.pop("ScopeDownStatement", None)
        assert statement == {"VendorName": "AWS", "Name": group}
        assert rules[group]["OverrideAction"] == {"None": {}}  # enforced, not count-only
    assert "AWSManagedRulesAnonymousIpList" in rules and "AWSManagedRulesCommonRuleSet" in rules


def test_given_the_web_acl_then_the_soar_block_list_comes_first_and_admin_paths_need_admin_cidrs(dev_synth):
    rules = _rules(dev_synth)
    assert min(rules.values(), key=lambda rule: rule["Priority"])["Name"] == "BlockList"
    ip_sets = {
        s["Properties"]["Name"]: s["Properties"] for s in dev_synth.resources("AWS::WAFv2::IPSet").values()
    }
    assert ip_sets["ticketguard-dev-blocklist"]["Addresses"] == []
    assert ip_sets["ticketguard-dev-admin-cidrs"]["Addresses"] == list(dev_synth.config.admin_cidrs)
    admin = rules["AdminFromAdminCidrs"]["Statement"]["AndStatement"]["Statements"]
    assert admin[0]["ByteMatchStatement"]["SearchString"] == "/admin/"
    assert "NotStatement" in admin[1]


def test_given_the_web_acl_then_it_protects_the_stage_and_logs_without_api_keys(dev_synth):
    [association] = dev_synth.resources("AWS::WAFv2::WebACLAssociation").values()
    assert "Stage" in str(association["Properties"]["ResourceArn"]) or "stages" in str(
        association["Properties"]["ResourceArn"]
    )
    [logging] = dev_synth.resources("AWS::WAFv2::LoggingConfiguration").values()
    assert logging["Properties"]["RedactedFields"] == [{"SingleHeader": {"Name": "x-api-key"}}]


def test_given_the_admin_pool_then_totp_mfa_is_required_and_sessions_last_15_minutes(dev_synth):
    [pool] = dev_synth.resources("AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["MfaConfiguration"] == "ON"
    assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["UserPoolTier"] == "PLUS"
    assert props["UserPoolAddOns"]["AdvancedSecurityMode"] == "ENFORCED"
    [client] = dev_synth.resources("AWS::Cognito::UserPoolClient").values()
    client_props = client["Properties"]
    assert client_props["AccessTokenValidity"] == 15 and client_props["IdTokenValidity"] == 15
    assert client_props["TokenValidityUnits"]["AccessToken"] == "minutes"
    assert client_props["EnableTokenRevocation"] is True


def test_given_prod_then_the_admin_pool_cannot_be_deleted(prod_synth):
    [pool] = prod_synth.resources("AWS::Cognito::UserPool").values()
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"
    assert pool["DeletionPolicy"] == "Retain"


def test_given_the_admin_pool_then_failed_mfa_challenges_become_the_failed_admin_mfa_metric(dev_synth):
    [delivery] = dev_synth.resources("AWS::Cognito::LogDeliveryConfiguration").values()
    [config] = delivery["Properties"]["LogConfigurations"]
    assert (config["EventSource"], config["LogLevel"]) == ("userAuthEvents", "INFO")
    [metric_filter] = dev_synth.resources("AWS::Logs::MetricFilter").values()
    props = metric_filter["Properties"]
    assert props["FilterPattern"] == '"Mfa" "Failure"'
    [transformation] = props["MetricTransformations"]
    assert (transformation["MetricNamespace"], transformation["MetricName"]) == (
        "TicketGuard",
        "FailedAdminMfa",
    )


def test_given_a_failed_mfa_auth_event_then_the_filter_terms_match_it_and_a_password_failure_does_not():
    from infra.security import FAILED_MFA_TERMS

    failed_mfa = {
        "eventType": "SignIn",
        "eventResponse": "Fail",
        "challenges": [
            {"ChallengeName": "Password", "ChallengeResponse": "Success"},
            {"ChallengeName": "Mfa", "ChallengeResponse": "Failure"},
        ],
    }
    wrong_password = {
        "eventType": "SignIn",
        "eventResponse": "Fail",
        "challenges": [
            {"ChallengeName": "Password", "ChallengeResponse": "Failure"},
        ],
    }

    def matches(event):
        text = json.dumps(event)
        return all(term in text for term in FAILED_MFA_TERMS)

    assert matches(failed_mfa) and not matches(wrong_password)

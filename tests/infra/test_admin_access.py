"""The admin function in the templates (issue 26): the AWS calls its routes make are granted, exactly those
(infra/admin_access.py's table), and the environment names them as shared.config reads them; the SIEM
writes the audit chain's anchor, the admin function only reads it."""

from __future__ import annotations

from typing import Any

import pytest

from infra.model_access import POINTER_KEY, ROLLOUT_KEY
from infra.security_ops import audit_anchor_parameter
from shared.config import SecuritySettings, Settings, env_name
from tests.infra.test_retrain import _grants, _role_of_function, _statements, flat
from tests.infra.test_security_ops import _function_logical_id, _list

pytestmark = pytest.mark.xdist_group("infra")

ANCHOR_ARN = (
    "arn:${AWS::Partition}:ssm:eu-west-1:${AWS::AccountId}:parameter/ticketguard/dev/audit/chain-head"
)


def _function(synth: Any, name: str) -> dict[str, Any]:
    return synth.resources("AWS::Lambda::Function")[_function_logical_id(synth, name)]["Properties"]


def _service_actions(statements: list[dict[str, Any]], *services: str) -> dict[str, list[str]]:
    """action -> its resources (flattened), for the actions of `services`."""
    found: dict[str, list[str]] = {}
    for statement in statements:
        for action in _list(statement["Action"]):
            if action.split(":")[0] in services:
                found.setdefault(action, []).extend(flat(r) for r in _list(statement["Resource"]))
    return found


def _ip_set_names(synth: Any, resources: list[str]) -> set[str]:
    sets = {logical: r["Properties"]["Name"] for logical, r in synth.resources("AWS::WAFv2::IPSet").items()}
    return {name for logical, name in sets.items() if any(f"${{{logical}.Arn}}" == r for r in resources)}


def test_given_the_admin_function_then_it_may_make_exactly_the_aws_calls_of_its_routes(dev_synth):
    statements = _statements(dev_synth, _role_of_function(dev_synth, "admin"))
    # Blocklist and undo: the two WAF IP sets, read and replaced (shared/soar/aws.py sync_ip_set)
    waf = _service_actions(statements, "wafv2")
    assert set(waf) == {"wafv2:GetIPSet", "wafv2:UpdateIPSet"}
    for resources in waf.values():
        assert _ip_set_names(dev_synth, resources) == {
            "ticketguard-dev-blocklist",
            "ticketguard-dev-challenge",
        }
        assert len(resources) == 2
    # Undo of disable_admin: enable, on the admin pool only (disabling stays the SOAR's)
    [pool] = dev_synth.resources("AWS::Cognito::UserPool")
    assert _service_actions(statements, "cognito-idp") == {
        "cognito-idp:AdminEnableUser": [f"${{{pool}.Arn}}"]
    }
    # Audit verify: the anchor, read only
    assert _service_actions(statements, "ssm") == {"ssm:GetParameter": [ANCHOR_ARN]}
    # Model versions and rollback: CURRENT and ROLLOUT.json read and written, manifests read, CURRENT listed
    assert _grants(statements) == {
        ("s3:GetObject", f"archive/{POINTER_KEY}"),
        ("s3:GetObject", f"archive/{ROLLOUT_KEY}"),
        ("s3:GetObject", "archive/models/*/manifest.json"),
        ("s3:ListBucket", f"archive prefix={POINTER_KEY}"),
        ("s3:PutObject", f"archive/{POINTER_KEY}"),
        ("s3:PutObject", f"archive/{ROLLOUT_KEY}"),
    }
    kms = _service_actions(statements, "kms")
    assert set(kms) == {"kms:Decrypt", "kms:GenerateDataKey"}
    via = [s for s in statements if "kms:GenerateDataKey" in _list(s["Action"])]
    assert all("kms:ViaService" in flat(s.get("Condition", {})) for s in via)
    # Nothing else of AWS but the secrets, the VPC's interfaces and X-Ray (every function's)
    services = {action.split(":")[0] for s in statements for action in _list(s["Action"])}
    assert services <= {
        "wafv2",
        "cognito-idp",
        "ssm",
        "s3",
        "kms",
        "secretsmanager",
        "ec2",
        "xray",
        "logs",
    }, services


def test_given_the_admin_function_then_its_environment_names_them_as_the_settings_read_them(dev_synth):
    function = _function(dev_synth, "admin")
    variables = function["Environment"]["Variables"]
    expected = {
        env_name("model_registry"),
        env_name("waf_scope"),
        env_name("waf_ip_set_name"),
        env_name("waf_ip_set_id"),
        env_name("waf_challenge_ip_set_name", SecuritySettings),
        env_name("waf_challenge_ip_set_id", SecuritySettings),
        env_name("cognito_user_pool_id", SecuritySettings),
        env_name("audit_anchor_parameter"),
        env_name("admin_allowed_cidrs"),
    }
    assert expected <= set(variables), expected - set(variables)
    assert flat(variables[env_name("model_registry")]).startswith("s3://ticketguard-dev-archive-")
    assert variables[env_name("audit_anchor_parameter")] == audit_anchor_parameter("dev")
    assert (variables[env_name("waf_ip_set_name")], variables["TG_WAF_CHALLENGE_IP_SET_NAME"]) == (
        "ticketguard-dev-blocklist",
        "ticketguard-dev-challenge",
    )
    # the plain values validate as the functions' settings do at cold start (the salt: its secret's value)
    plain = {k.removeprefix("TG_").lower(): v for k, v in variables.items() if isinstance(v, str)}
    settings = Settings.model_validate({**plain, "log_pii_salt": "a-salt-of-16-chars"})
    assert settings.model_registry is None or settings.model_registry.startswith("s3://")
    assert settings.audit_anchor_parameter == "/ticketguard/dev/audit/chain-head"
    # WAF and Cognito have no VPC endpoint: the function runs where the SOAR does (the NAT's subnets)
    assert function["VpcConfig"]["SubnetIds"] == _function(dev_synth, "soar")["VpcConfig"]["SubnetIds"]


def test_given_the_siem_then_it_reads_and_writes_the_audit_anchor_and_no_one_else_writes_it(dev_synth):
    siem = _statements(dev_synth, _role_of_function(dev_synth, "siem"))
    assert _service_actions(siem, "ssm") == {
        "ssm:GetParameter": [ANCHOR_ARN],
        "ssm:PutParameter": [ANCHOR_ARN],
    }
    assert _function(dev_synth, "siem")["Environment"]["Variables"][
        env_name("audit_anchor_parameter")
    ] == audit_anchor_parameter("dev")
    for name in ("admin", "soar", "score", "retention", "model_ops"):
        ssm = _service_actions(_statements(dev_synth, _role_of_function(dev_synth, name)), "ssm")
        assert "ssm:PutParameter" not in ssm, name

"""The two Lambda handlers as Lambda calls them, on the real PostgreSQL and Redis and moto: the SIEM
function with a CloudWatch Logs subscription event (findings to EventBridge) and with its schedule
(the database sources); the SOAR function with a finding from EventBridge and with its schedule (the
lift job); and `ticketguard siem replay`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import psycopg
import pytest
import redis

from functions.siem.handler import handler as siem_handler
from functions.soar.handler import handler as soar_handler
from shared.jobs.schedules import SCHEDULES
from shared.siem.publish import DETAIL_TYPE, SOURCE
from shared.siem.store import list_findings
from tests.fixtures.siem import Aws
from tooling.cli import main as ticketguard
from tooling.local.cloudwatch import subscription_event
from tooling.local.gateway import LocalLambdaContext

T0 = datetime.now(UTC).replace(microsecond=0)


def _brute_force_lines() -> list[tuple[datetime, str]]:
    # Cognito user-activity lines: an admin's MFA challenge failed three times within two minutes
    line = {"eventType": "SignIn", "userName": "alice", "ipAddress": "203.0.113.5",
            "challenges": [{"challengeName": "Password", "challengeResponse": "Success"},
                           {"challengeName": "Mfa", "challengeResponse": "Failure"}]}  # fmt: skip
    return [(T0 + timedelta(seconds=40 * i), json.dumps(line)) for i in range(3)]


ANCHOR_PARAMETER = "/ticketguard/test/audit/chain-head"


def _scheduled(name: str) -> dict:
    """The event the schedules table's rule sends (EventBridge's Scheduled Event)."""
    [row] = [s for s in SCHEDULES if s.name == name]
    return {"version": "0", "id": "s", "detail-type": "Scheduled Event", "source": "aws.events", "account": "1",
            "time": T0.isoformat(), "region": "eu-west-1", "resources": [], "detail": dict(row.payload or {})}  # fmt: skip


@pytest.fixture
def deployed(db: psycopg.Connection, redis_url: str, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The functions' environment as the CDK stack sets it (pointing at moto's resources)."""
    refs = aws.effectors.ip_sets
    monkeypatch.setenv("TG_WAF_IP_SET_NAME", refs["ip"].name)
    monkeypatch.setenv("TG_WAF_IP_SET_ID", refs["ip"].id)
    monkeypatch.setenv("TG_WAF_CHALLENGE_IP_SET_NAME", refs["challenge"].name)
    monkeypatch.setenv("TG_WAF_CHALLENGE_IP_SET_ID", refs["challenge"].id)
    monkeypatch.setenv("TG_COGNITO_USER_POOL_ID", aws.pool_id)
    for severity, arn in aws.effectors.topics.items():
        monkeypatch.setenv(f"TG_ALERT_TOPIC_ARN_{severity.upper()}", arn)
    monkeypatch.setenv("TG_AUDIT_ANCHOR_PARAMETER", ANCHOR_PARAMETER)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    return aws


def test_the_siem_function_turns_a_subscription_into_a_published_finding_and_the_soar_function_acts_on_it(
    db: psycopg.Connection, redis_client: redis.Redis, deployed: Aws
) -> None:
    # Given the SIEM function invoked by the Cognito log group's subscription
    summary = siem_handler(
        subscription_event("/aws/vendedlogs/cognito/x", _brute_force_lines()),
        LocalLambdaContext("siem", "r1"),
    )
    # Then one admin-MFA finding is stored and published to EventBridge
    assert summary["logs"]["findings_new"] == 1 and summary["logs"]["published"] == 1
    [finding] = list_findings(db)
    assert (finding.rule, finding.subject) == ("admin_mfa", "cognito:alice")
    # When EventBridge delivers it to the SOAR function
    event = {"version": "0", "id": "e1", "detail-type": DETAIL_TYPE, "source": SOURCE, "account": "1",
             "time": T0.isoformat(), "region": "eu-west-1", "resources": [], "detail": finding.detail()}  # fmt: skip
    result = soar_handler(event, LocalLambdaContext("soar", "r2"))
    # Then the admin is disabled in Cognito and the critical topic paged
    assert result["actions"] == {"disable_admin:done": 1, "page:done": 1}
    assert not deployed.admin_enabled("alice") and len(deployed.pages("critical")) == 1
    # And the schedules run: the SIEM polls the database sources, the SOAR lifts lapsed entries
    polled = siem_handler(_scheduled("siem-poll"), LocalLambdaContext("siem", "r3"))
    assert set(polled) == {"logins", "sessions", "fraud", "audit_anchor"}
    # and the poll anchors the audit chain's head in SSM (shared/audit/anchor.py)
    head = db.execute("SELECT head_seq, head_hash FROM intel.audit_chain").fetchone()
    assert head is not None
    assert polled["audit_anchor"] == {"seq": head[0], "advanced": True, "problems": []}
    stored = json.loads(boto3.client("ssm").get_parameter(Name=ANCHOR_PARAMETER)["Parameter"]["Value"])
    assert (stored["seq"], stored["hash"]) == tuple(head)
    assert soar_handler(_scheduled("soar-lift"), LocalLambdaContext("soar", "r4"))["lifted"] == 0


def test_the_soar_function_refuses_a_finding_without_an_id(db: psycopg.Connection, deployed: Aws) -> None:
    from shared.errors import ValidationFailed

    event = {"detail-type": DETAIL_TYPE, "detail": "{not json"}
    with pytest.raises(ValidationFailed, match="not JSON"):
        soar_handler(event, LocalLambdaContext("soar", "r5"))


def test_replay_prints_events_and_findings_without_acting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    # Given a subscription event file, and a file that is not one
    good, bad = tmp_path / "event.json", tmp_path / "bad.json"
    good.write_text(json.dumps(subscription_event("/aws/vendedlogs/cognito/x", _brute_force_lines())))
    bad.write_text(json.dumps({"awslogs": {"data": "%%%"}}))
    # When replayed
    assert ticketguard(["siem", "replay", str(good)]) == 0
    printed = json.loads(capsys.readouterr().out)
    # Then the three events and the finding are printed, and nothing was stored
    assert [e["kind"] for e in printed["events"]] == ["mfa_failed"] * 3
    assert [f["rule"] for f in printed["findings"]] == ["admin_mfa"]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM siem.findings").fetchone() == (0,)
    # And the bad file is one line naming the problem, status 2
    assert ticketguard(["siem", "replay", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "base64 of gzip" in err[0]

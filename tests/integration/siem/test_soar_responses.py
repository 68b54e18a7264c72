"""The SOAR against moto (WAF IP sets, SNS topics, the Cognito admin pool) and the real PostgreSQL and
Redis: each rule's response, the guardrails (never-block, the hourly cap, dry run), one action per
finding however often it is delivered or rerun after a crash, expiry and undo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis

from shared.api.models import Decision, PredictRequest, Reason
from shared.config import SecuritySettings
from shared.errors import Conflict
from shared.scoring.service import score_transaction
from shared.siem.models import Finding, Severity
from shared.siem.store import get_finding, store_finding
from shared.soar import actions, blocklist
from shared.soar.responses import lift_expired, respond, undo
from tests.fixtures.api import Market
from tests.fixtures.siem import Aws

NOW = datetime.now(UTC)


def _stored(
    db: psycopg.Connection,
    rule: str,
    kind: str,
    subject: str,
    evidence: dict,
    severity: Severity = Severity.HIGH,
) -> Finding:
    finding, _ = store_finding(
        db,
        Finding(
            dedup_key=f"{rule}:{kind}:{subject}:{int(NOW.timestamp())}",
            rule=rule,  # type: ignore[arg-type]
            severity=severity,
            subject_kind=kind,  # type: ignore[arg-type]
            subject=subject,
            first_seen=NOW - timedelta(minutes=3),
            last_seen=NOW,
            event_count=5,
            evidence=evidence,
        ),
    )
    return finding


def _statuses(response: object) -> list[tuple[str, str, str]]:
    return [(a.action, a.target, a.status) for a in response.actions]  # type: ignore[attr-defined]


def test_a_brute_force_ip_is_blocked_in_waf_and_the_blocklist_and_on_call_is_paged_once(
    db: psycopg.Connection, redis_client: redis.Redis, aws: Aws
) -> None:
    # Given a brute-force finding on one IP
    finding = _stored(db, "brute_force", "ip", "203.0.113.7", {"event_ids": ["a"] * 5})
    # When the SOAR responds, and the same finding is delivered again
    first = respond(db, finding, aws.effectors, SecuritySettings(), redis_client)
    again = respond(db, finding, aws.effectors, SecuritySettings(), redis_client)
    # Then the IP is blocked (blocklist with an expiry, WAF block set), the high topic paged, once
    assert _statuses(first) == [("block_ip", "203.0.113.7", "done"), ("page", "high", "done")]
    assert _statuses(again) == _statuses(first)
    entry = blocklist.is_blocked(db, "ip", "203.0.113.7")
    assert (
        entry is not None and entry.expires_at is not None and entry.expires_at > NOW + timedelta(minutes=50)
    )
    assert aws.ip_set("ip") == ["203.0.113.7/32"] and aws.ip_set("challenge") == []
    [page] = aws.pages("high")
    assert page["event_action"] == "trigger" and page["dedup_key"] == finding.dedup_key
    assert (
        page["payload"]["severity"] == "error" and "block_ip 203.0.113.7: done" in page["payload"]["summary"]
    )
    assert aws.pages("high") == []
    assert len(actions.list_actions(db, finding_id=finding.finding_id)) == 2
    stored = get_finding(db, finding.finding_id or 0)
    assert stored is not None and stored.status == "handled"


def test_never_block_networks_and_dry_run_hold(
    db: psycopg.Connection, redis_client: redis.Redis, aws: Aws
) -> None:
    # Given the marketplace backend's egress on the never-block list, and challenges in dry run
    settings = SecuritySettings(soar_never_block="192.0.2.0/24, 2001:db8::/32", soar_dry_run="challenge_ip")
    backend = _stored(db, "brute_force", "ip", "192.0.2.10", {})
    flood = _stored(db, "ddos", "ips", "all", {"ips": ["198.51.100.1", "198.51.100.2"]}, Severity.CRITICAL)
    # When the SOAR responds
    held = respond(db, backend, aws.effectors, settings, redis_client)
    dry = respond(db, flood, aws.effectors, settings, redis_client)
    # Then nothing is blocked or challenged, each action says why, and the pages still go out
    assert _statuses(held)[0] == ("block_ip", "192.0.2.10", "skipped")
    assert "never_block" in held.actions[0].reason
    assert [s for _, _, s in _statuses(dry)] == ["dry_run", "dry_run", "done"]
    assert blocklist.list_entries(db) == [] and aws.ip_set("ip") == aws.ip_set("challenge") == []
    assert len(aws.pages("critical")) == 1


def test_the_hourly_cap_on_automatic_blocks_holds(
    db: psycopg.Connection, redis_client: redis.Redis, aws: Aws
) -> None:
    settings = SecuritySettings(soar_max_blocks_per_hour=2)
    responses = [
        respond(
            db, _stored(db, "brute_force", "ip", f"203.0.113.{i}", {}), aws.effectors, settings, redis_client
        )
        for i in (1, 2, 3)
    ]
    assert [r.actions[0].status for r in responses] == ["done", "done", "skipped"]
    assert responses[2].actions[0].reason.startswith("cap: 2 automatic blocks")
    assert aws.ip_set("ip") == ["203.0.113.1/32", "203.0.113.2/32"]


def test_a_crash_between_claim_and_effect_is_completed_by_the_rerun_exactly_once(
    db: psycopg.Connection, redis_client: redis.Redis, aws: Aws
) -> None:
    # Given a finding whose block was claimed (pending) when the SOAR died, before WAF was updated
    finding = _stored(db, "brute_force", "ip", "203.0.113.9", {})
    actions.claim(db, finding_id=finding.finding_id, action="block_ip", target="203.0.113.9", reason="r")
    # When the finding is delivered again
    rerun = respond(db, finding, aws.effectors, SecuritySettings(), redis_client)
    # Then the block is completed, one action, one WAF entry, one page
    assert _statuses(rerun) == [("block_ip", "203.0.113.9", "done"), ("page", "high", "done")]
    assert len(actions.list_actions(db, action="block_ip")) == 1
    assert aws.ip_set("ip") == ["203.0.113.9/32"] and len(aws.pages("high")) == 1


def test_a_fraud_ring_blacklists_its_wallets_and_the_next_score_is_blocked_at_once(
    db: psycopg.Connection, redis_client: redis.Redis, aws: Aws, api_market: Market, api_state: None
) -> None:
    # Given the ring's wallet scored a moment ago (the lookup cached "not blocklisted" for 30 s)
    request = PredictRequest(
        transaction_id="ring-1",
        wallet_address=api_market.honest_wallet,
        ticket_id=api_market.ticket_ids[0],
        price_paid=80.0,
    )
    assert score_transaction(request, client_ip="192.0.2.44").reason is not Reason.BLOCKLIST_WALLET
    finding = _stored(db, "fraud_ring", "instrument", "card:abc", {"wallets": [api_market.honest_wallet]})
    # When the SOAR responds
    response = respond(db, finding, aws.effectors, SecuritySettings(), redis_client)
    # Then the wallet is blacklisted, and the very next score is BLOCKED with the blocklist reason
    assert _statuses(response)[0] == ("blacklist_wallet", api_market.honest_wallet, "done")
    nxt = score_transaction(request.model_copy(update={"transaction_id": "ring-2"}), client_ip="192.0.2.44")
    assert (nxt.decision, nxt.reason) == (Decision.BLOCKED, Reason.BLOCKLIST_WALLET)


def test_failed_admin_mfa_disables_the_cognito_admin_pages_critical_and_undo_enables_it(
    db: psycopg.Connection, redis_client: redis.Redis, aws: Aws
) -> None:
    finding = _stored(
        db, "admin_mfa", "admin", "cognito:alice", {"event_ids": ["x", "y", "z"]}, Severity.CRITICAL
    )
    response = respond(db, finding, aws.effectors, SecuritySettings(), redis_client)
    assert _statuses(response) == [("disable_admin", "cognito:alice", "done"), ("page", "critical", "done")]
    assert not aws.admin_enabled("alice")
    assert aws.pages("critical")[0]["payload"]["severity"] == "critical"
    undone = undo(db, response.actions[0].action_id, "analyst", aws.effectors, redis_client)
    assert undone.status == "undone" and aws.admin_enabled("alice")
    with pytest.raises(Conflict, match="cannot be taken back"):
        undo(db, response.actions[1].action_id, "analyst", aws.effectors, redis_client)


def test_an_expired_block_is_lifted_from_waf_and_an_undone_one_at_once(
    db: psycopg.Connection, redis_client: redis.Redis, aws: Aws
) -> None:
    settings = SecuritySettings()
    old = respond(
        db, _stored(db, "brute_force", "ip", "203.0.113.20", {}), aws.effectors, settings, redis_client
    )
    new = respond(
        db, _stored(db, "brute_force", "ip", "203.0.113.21", {}), aws.effectors, settings, redis_client
    )
    assert aws.ip_set("ip") == ["203.0.113.20/32", "203.0.113.21/32"]
    # Given the first block's hour is over
    db.execute(
        "UPDATE intel.blocklist SET expires_at = now() - interval '1 second' WHERE value = '203.0.113.20/32'"
    )
    # When the lift job runs, Then it is gone from WAF and its action is expired
    assert lift_expired(db, aws.effectors)["lifted"] == 1
    assert aws.ip_set("ip") == ["203.0.113.21/32"]
    assert actions.get_action(db, old.actions[0].action_id).status == "expired"  # type: ignore[union-attr]
    # When an analyst undoes the second, Then WAF holds nothing
    undo(db, new.actions[0].action_id, "analyst", aws.effectors, redis_client)
    assert aws.ip_set("ip") == [] and blocklist.list_entries(db, "ip") == []

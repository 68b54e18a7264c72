"""The SIEM on real Redis and PostgreSQL: CloudWatch Logs subscription events decoded through
Powertools, the three correlation rules and the admin-MFA alert at their thresholds (and not below),
findings stored once per dedup key however often the same events come back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis

from shared.config import SecuritySettings
from shared.errors import ValidationFailed
from shared.siem.logs import decode_subscription
from shared.siem.models import SecurityEvent, Severity
from shared.siem.service import process, process_sources, process_subscription
from tooling.local.cloudwatch import access_log_line, subscription_event

T0 = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
SETTINGS = SecuritySettings()


def _failed_login(
    n: int, ip: str, account: str, at: datetime, *, admin: bool = False, mfa: bool = False
) -> SecurityEvent:
    return SecurityEvent(
        event_id=f"login:{n}",
        source="test",
        kind="mfa_failed" if mfa else "login_failed",
        severity=Severity.LOW,
        occurred_at=at,
        ip=ip,
        account=account,
        is_admin=admin,
    )


def test_five_failed_logins_from_one_ip_within_five_minutes_are_one_brute_force_finding(
    redis_client: redis.Redis,
) -> None:
    # Given four failed logins from one IP against four accounts, a minute apart
    events = [_failed_login(i, "203.0.113.7", f"user:{i}", T0 + timedelta(minutes=i)) for i in range(4)]
    # Then four are not enough
    assert process(None, redis_client, events, SETTINGS, None).findings == []
    # When the fifth comes 4 minutes 30 s after the first
    fifth = [_failed_login(9, "203.0.113.7", "user:9", T0 + timedelta(minutes=4, seconds=30))]
    found = process(None, redis_client, fifth, SETTINGS, None).findings
    # Then one finding names the IP, with the five events and the accounts as its evidence
    assert [(f.rule, f.subject_kind, f.subject, f.event_count) for f in found] == [
        ("brute_force", "ip", "203.0.113.7", 5)
    ]
    assert sorted(found[0].evidence["accounts"]) == sorted(["user:0", "user:1", "user:2", "user:3", "user:9"])
    # When the same five come back (a replay), Then the count is still five and the key the same
    again = process(None, redis_client, events + fifth, SETTINGS, None).findings
    assert [(f.dedup_key, f.event_count) for f in again] == [(found[0].dedup_key, 5)]


def test_failed_logins_spread_over_more_than_the_window_are_no_finding(redis_client: redis.Redis) -> None:
    events = [_failed_login(i, "198.51.100.1", "user:1", T0 + timedelta(minutes=2 * i)) for i in range(6)]
    assert process(None, redis_client, events, SETTINGS, None).findings == []


def test_three_failed_admin_mfa_within_five_minutes_are_a_critical_finding(redis_client: redis.Redis) -> None:
    events = [
        _failed_login(i, "192.0.2.50", "cognito:alice", T0 + timedelta(seconds=40 * i), admin=True, mfa=True)
        for i in range(3)
    ]
    [finding] = process(None, redis_client, events, SETTINGS, None).findings
    assert (finding.rule, finding.severity, finding.subject) == (
        "admin_mfa",
        Severity.CRITICAL,
        "cognito:alice",
    )


def test_fifty_ips_rate_limited_within_a_minute_in_access_logs_are_a_ddos_finding(
    db: psycopg.Connection, redis_client: redis.Redis
) -> None:
    # Given API Gateway access log lines: 49 distinct IPs refused (429), each twice, and 200s
    lines = [
        (T0 + timedelta(seconds=i % 50), access_log_line(f"198.51.100.{i % 49 + 1}", 429, T0))
        for i in range(98)
    ]
    lines += [(T0, access_log_line("192.0.2.1", 200, T0))]
    event = subscription_event("/aws/apigateway/ticketguard-test-access", lines)
    outcome = process_subscription(event, db, redis_client, SETTINGS, None)
    # Then 98 rate-limited events, stored, but no finding (49 IPs)
    assert (outcome.log_events, outcome.events, outcome.events_new, outcome.findings) == (99, 98, 98, [])
    # When a 50th IP is refused within the minute
    fiftieth = subscription_event(
        "/aws/apigateway/x", [(T0 + timedelta(seconds=30), access_log_line("198.51.100.200", 429, T0))]
    )
    published: list[str] = []
    outcome = process_subscription(
        fiftieth, db, redis_client, SETTINGS, lambda fs: published.extend(f.dedup_key for f in fs)
    )
    # Then one DDoS finding with the 50 IPs, stored and published
    [finding] = outcome.findings
    assert finding.rule == "ddos" and len(finding.evidence["ips"]) == 50
    assert outcome.findings_new == 1 and published == [finding.dedup_key]
    assert db.execute("SELECT count(*) FROM siem.findings").fetchone() == (1,)


def test_a_control_message_carries_no_events_and_a_non_event_is_refused_by_name() -> None:
    control = subscription_event(
        "/aws/lambda/x", [(T0, "CWL CONTROL MESSAGE")], message_type="CONTROL_MESSAGE"
    )
    assert decode_subscription(control).events == []
    with pytest.raises(ValidationFailed, match="awslogs"):
        decode_subscription({"Records": []})
    with pytest.raises(ValidationFailed, match="base64 of gzip"):
        decode_subscription({"awslogs": {"data": "bm90IGd6aXA="}})


def test_three_fraud_decisions_on_wallets_sharing_an_instrument_are_a_fraud_ring(
    redis_client: redis.Redis,
) -> None:
    wallets = [f"0x{i:040x}" for i in (1, 2, 3)]
    events = [
        SecurityEvent(
            event_id=f"decision:t{i}",
            source="intel.fraud_predictions",
            kind="fraud_decision",
            severity=Severity.MEDIUM,
            occurred_at=T0 + timedelta(hours=i),
            wallet=wallet,
            ip=f"192.0.2.{i}",
            details={"transaction_id": f"t{i}", "payment_instrument": "card:abc"},
        )
        for i, wallet in enumerate(wallets)
    ]
    [ring] = process(None, redis_client, events, SETTINGS, None).findings
    assert (ring.rule, ring.subject_kind, ring.subject) == ("fraud_ring", "instrument", "card:abc")
    assert ring.evidence["wallets"] == wallets


def test_failed_logins_reported_through_ingest_are_polled_once_and_correlated(
    db: psycopg.Connection, redis_client: redis.Redis
) -> None:
    # Given a marketplace admin's three failed MFA challenges and one customer's failed logins, stored by ingest
    db.execute(
        "INSERT INTO marketplace.users (user_id, email, display_name, country, created_at) VALUES (7, 'admin@example.org', 'Admin', 'GB', %s)",
        (T0,),
    )
    for i in range(3):
        db.execute(
            """INSERT INTO marketplace.login_attempts (attempt_id, user_id, email, ip, success, failure_reason,
                   is_admin, attempted_at) VALUES (%s, 7, 'admin@example.org', '192.0.2.9', false, 'bad_mfa', true, %s)""",
            (100 + i, T0 + timedelta(seconds=20 * i)),
        )
    # When the sources are polled twice
    first = process_sources(db, redis_client, SETTINGS, None)
    second = process_sources(db, redis_client, SETTINGS, None)
    # Then the three attempts are three events, one finding, and the second poll adds nothing new
    assert first["logins"].events_new == 3 and first["logins"].findings_new == 1
    assert first["logins"].findings[0].subject == "user:7"
    assert second["logins"].events_new == 0 and second["logins"].findings_new == 0

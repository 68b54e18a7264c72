"""The monitoring page's two payloads over a real PostgreSQL and Redis: every section from the stored
decisions, labels, logins, blocklist and the limiter's counts; the severity filter; the drift trend per
whole day, each past day measured once (Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import redis as redis_lib

from shared.config import get_settings
from shared.errors import ValidationFailed
from shared.monitoring.model import MEASUREMENTS_PER_CALL
from shared.monitoring.payload import aggregates_payload, live_payload
from shared.monitoring.security import SEVERITIES, parse_severities
from shared.ratelimit import RateLimiter, Rule
from shared.ratelimit.limiter import PREDICT_ROUTE
from tests.fixtures.drift import DRIFT_MODEL_VERSION, live_vectors, store_predictions, younger_wallets

WALLET = "0x" + "cd" * 20
NOW = datetime.now(UTC)
MIDNIGHT = NOW.replace(hour=0, minute=0, second=0, microsecond=0)


def _decide(db: psycopg.Connection, txn: str, score: float, decision: str, minutes_ago: float) -> None:
    db.execute(
        """INSERT INTO intel.fraud_predictions (transaction_id, wallet_address, ticket_id, price_paid, fraud_score,
               decision, confidence, reason, features, top_features, model_version, latency_ms, created_at)
           VALUES (%s, %s, '7', 50, %s, %s, 0.9, 'model', '{}', '{"wallet_age_days": 0.2, "txn_velocity_1h": -0.4}',
                   %s, 12.5, %s)""",
        (txn, WALLET, score, decision, DRIFT_MODEL_VERSION, NOW - timedelta(minutes=minutes_ago)),
    )


def _seed(db: psycopg.Connection, redis_client: redis_lib.Redis) -> None:
    _decide(db, "mon-blocked", 0.93, "BLOCKED", 3)
    _decide(db, "mon-review", 0.71, "MANUAL_REVIEW", 10)
    _decide(db, "mon-2fa", 0.45, "REQUIRE_2FA", 20)
    _decide(db, "mon-ok", 0.05, "APPROVED", 30)
    for txn, is_fraud in (("mon-blocked", True), ("mon-review", False)):
        db.execute(
            "INSERT INTO intel.fraud_labels (transaction_id, is_fraud, source, labelled_at) VALUES (%s, %s, 'review', %s)",
            (txn, is_fraud, NOW - timedelta(minutes=1)),
        )
    for attempt, is_admin in ((1, True), (2, False)):
        db.execute(
            """INSERT INTO intel.login_attempts (attempt_id, email_hash, ip, success, failure_reason, is_admin,
                   attempted_at, updated_at) VALUES (%s, 'h', '198.51.100.4', false, 'bad_mfa', %s, %s, %s)""",
            (attempt, is_admin, NOW - timedelta(minutes=attempt), NOW),
        )
    db.execute(
        "INSERT INTO intel.blocklist (kind, value, reason, source, created_at) VALUES ('wallet', %s, 'ring', 'analyst', %s)",
        (WALLET, NOW - timedelta(minutes=2)),
    )
    limiter = RateLimiter(
        (Rule("ip", 100, 60, "ip"), Rule("purchase", 1, 60, "wallet", routes=(PREDICT_ROUTE,))), enabled=True
    )
    for _ in range(3):
        limiter.hit(redis_client, PREDICT_ROUTE, ip="203.0.113.50", user=None, wallet=WALLET)


def test_given_a_day_of_activity_when_the_live_payload_is_read_then_every_section_has_it(
    db: psycopg.Connection, redis_client: redis_lib.Redis
) -> None:
    # Given four decisions of the last hour, two labels, two failed logins, a blocklist entry and a
    # wallet refused twice by its purchase limit
    _seed(db, redis_client)
    # When the page reads its live figures
    with psycopg.connect(db.info.dsn) as conn:
        live = live_payload(conn, redis_client, severities=SEVERITIES, now=datetime.now(UTC))
    # Then the KPIs count the four decisions (two of them stop the purchase: 50%) and their latency
    hour = live["kpis"]["last_hour"]
    assert hour["predictions"] == 4 and hour["fraud_rate_percent"] == 50.0 and hour["p95_latency_ms"] == 12.5
    # And the score distribution holds each score in its tenth, the high-risk feed the two flagged, newest first
    fraud = live["fraud"]
    assert [b["count"] for b in fraud["histogram"]] == [1, 0, 0, 0, 1, 0, 0, 1, 0, 1]
    assert [t["transaction_id"] for t in fraud["high_risk"]] == ["mon-blocked", "mon-review"]
    assert fraud["high_risk"][0]["top_feature"] == "txn_velocity_1h"
    assert sum(row["BLOCKED"] for row in fraud["series"]) == 1 and len(fraud["series"]) == 24
    # And the traffic section counts the three checked requests, two refused, from one IP
    traffic = live["traffic"]
    assert traffic["requests_last_hour"] == 3 and traffic["violations_by_rule"] == {"purchase": 2}
    assert traffic["top_ips"] == [{"ip": "203.0.113.50", "requests": 3, "refused": 2}]
    # And system health lists each service with its status, and the resources
    assert {"api", "postgres", "redis", "model"} <= set(live["system"]["services"])
    assert live["system"]["services"]["redis"]["status"] == "up"
    assert live["system"]["resources"]["postgres_database_bytes"] > 0
    # And the security feed has an event of every source, newest first
    events = live["security"]["events"]
    assert {e["kind"] for e in events} == {
        "admin_login_failed",
        "login_failed",
        "fraud_blocked",
        "wallet_blocklisted",
        "rate_limited",
    }
    assert [e["at"] for e in events] == sorted((e["at"] for e in events), reverse=True)


def test_given_events_when_filtered_by_severity_then_only_those_severities_come(
    db: psycopg.Connection, redis_client: redis_lib.Redis
) -> None:
    _seed(db, redis_client)
    # When the page asks for high events only
    with psycopg.connect(db.info.dsn) as conn:
        high = live_payload(conn, redis_client, severities=parse_severities("high"), now=datetime.now(UTC))[
            "security"
        ]
    # Then the administrator's failed MFA is the one event
    assert [(e["severity"], e["kind"]) for e in high["events"]] == [("HIGH", "admin_login_failed")]
    assert high["selected"] == ["HIGH"]
    # And a severity the page does not know is a 400 naming the parameter
    with pytest.raises(ValidationFailed) as refused:
        parse_severities("high,urgent")
    assert refused.value.field == "severity" and "urgent" in refused.value.message
    assert parse_severities("") == SEVERITIES


def test_given_a_drifted_day_when_aggregates_are_read_then_the_trend_and_quality_show_it(
    db: psycopg.Connection, redis_client: redis_lib.Redis, drift_model_dir: Path
) -> None:
    # Given the served model's decisions: two days ago like its training data, yesterday with wallets a
    # tenth of the age it trained on, and today's labelled decisions
    store_predictions(db, live_vectors(300, seed=21), at=MIDNIGHT - timedelta(hours=30), prefix="calm")
    store_predictions(
        db,
        live_vectors(300, seed=22, shift=younger_wallets),
        at=MIDNIGHT - timedelta(hours=6),
        prefix="shift",
    )
    _seed(db, redis_client)
    # When the page reads its aggregates, minute after minute
    with psycopg.connect(db.info.dsn) as conn:
        calls = [aggregates_payload(conn, redis_client, now=NOW) for _ in range(5)]
    # Then each call measured at most its budget, newest days first, the others pending until later
    first = [point["status"] for point in calls[0]["drift"]["days"]]
    assert first[-1] != "pending" and first.count("pending") == 7 - (MEASUREMENTS_PER_CALL - 1)
    # And once filled, the trend has the last 7 whole days: the calm day under the alarm, the shifted over it
    aggregates = calls[-1]
    drift = aggregates["drift"]
    days = {point["end"]: point for point in drift["days"]}
    assert len(days) == 7 and drift["served_version"] == DRIFT_MODEL_VERSION
    assert "pending" not in {point["status"] for point in days.values()}
    calm, shifted = days[(MIDNIGHT - timedelta(days=1)).isoformat()], days[MIDNIGHT.isoformat()]
    assert calm["status"] == "measured" and calm["kl_max"] < drift["threshold"]
    assert shifted["kl_max"] > drift["threshold"] and shifted["feature"] == "wallet_age_days"
    # And each past day's measurement is kept in Redis (a day over does not change)
    assert redis_client.exists(f"tg:mon:drift:{DRIFT_MODEL_VERSION}:{MIDNIGHT.strftime('%Y%m%d')}")
    # And the confusion matrix counts the labelled flagged decisions: one fraud caught, one legitimate flagged
    served = aggregates["model_quality"]["versions"][0]
    assert served["role"] == "served" and served["confusion"]["true_positive"] == 1
    assert served["confusion"]["false_positive"] == 1 and served["precision"] == 0.5


def test_given_siem_events_when_the_feed_is_read_then_it_comes_from_the_siem(
    db: psycopg.Connection, redis_client: redis_lib.Redis
) -> None:
    # Given the system's own records and, once the SIEM runs, its events and a finding
    _seed(db, redis_client)
    db.execute(
        """INSERT INTO siem.security_events (event_id, source, kind, severity, occurred_at, ip, details)
           VALUES ('e1', 'logins', 'mfa_failed', 'CRITICAL', %s, '198.51.100.4', '{"is_admin": true}')""",
        (NOW - timedelta(minutes=4),),
    )
    db.execute(
        """INSERT INTO siem.findings (dedup_key, rule, severity, subject_kind, subject, first_seen, last_seen,
               event_count, evidence) VALUES ('k1', 'brute_force', 'HIGH', 'ip', '198.51.100.4', %s, %s, 5, '[]')""",
        (NOW - timedelta(minutes=9), NOW - timedelta(minutes=4)),
    )
    # When the page reads the feed, all severities and then CRITICAL only
    with psycopg.connect(db.info.dsn) as conn:
        feed = live_payload(conn, redis_client, severities=SEVERITIES, now=datetime.now(UTC))["security"]
        critical = live_payload(conn, redis_client, severities=("CRITICAL",), now=datetime.now(UTC))[
            "security"
        ]
    # Then the SIEM is the source, its finding included, and the system's own records are not repeated
    assert feed["mode"] == "siem"
    assert [(e["kind"], e["severity"]) for e in feed["events"]] == [
        ("mfa_failed", "CRITICAL"),
        ("finding:brute_force", "HIGH"),
    ]
    assert [e["kind"] for e in critical["events"]] == ["mfa_failed"]


def test_given_more_decisions_than_the_sample_when_drift_is_measured_then_a_sample_still_sees_the_shift(
    db: psycopg.Connection,
    redis_client: redis_lib.Redis,
    drift_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a day of 300 decisions with shifted wallets, and a sample size of 100 decisions
    store_predictions(
        db,
        live_vectors(300, seed=23, shift=younger_wallets),
        at=MIDNIGHT - timedelta(hours=6),
        prefix="shift",
    )
    monkeypatch.setattr("shared.monitoring.model.DRIFT_SAMPLE_ROWS", 100)
    monkeypatch.setenv("TG_DRIFT_MIN_ROWS", "50")
    get_settings.cache_clear()
    # When the page measures that day
    with psycopg.connect(db.info.dsn) as conn:
        days = aggregates_payload(conn, None, now=NOW)["drift"]["days"]
    [day] = [point for point in days if point["end"] == MIDNIGHT.isoformat()]
    # Then it read one decision in three, and the shift is over the alarm all the same
    assert day["sampled_every"] == 3 and 90 <= day["rows"] <= 110
    assert day["kl_max"] > 0.15 and day["feature"] == "wallet_age_days"

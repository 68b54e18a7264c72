"""A small marketplace spread over 400 days (rows on both sides of every hot age), and the archive as
two moto S3 buckets, the audit one under Object Lock in compliance mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from shared.retention.store import S3Store, Stores

AS_OF = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
ARCHIVE, AUDIT = "tg-test-archive", "tg-test-audit"
LOCK_DAYS = 2190


def wallet(n: int) -> str:
    return "0x" + f"{n:040x}"


def ip(user: int, n: int) -> str:
    return f"203.0.{user}.{n + 10}"


# Days before AS_OF at which each user's facts happen: both sides of 30, 90, 180 and 365 days.
AGES = (400, 366, 364, 200, 181, 179, 120, 91, 89, 31, 29, 5)


def seed(db: psycopg.Connection, users: tuple[int, ...] = (1, 2, 3)) -> None:
    db.execute(
        """INSERT INTO marketplace.events (event_id, name, venue, city, country, category, capacity,
               face_value, sale_starts_at, starts_at, created_at)
           VALUES (1, 'Show', 'Hall', 'Paris', 'FR', 'concert', 1000, 50, %s, %s, %s)""",
        (AS_OF - timedelta(days=500), AS_OF + timedelta(days=30), AS_OF - timedelta(days=500)),
    )
    db.execute(
        """INSERT INTO intel.events (event_id, name, category, country, capacity, face_value,
               sale_starts_at, starts_at, updated_at)
           VALUES (1, 'Show', 'concert', 'FR', 1000, 50, %s, %s, %s)""",
        (AS_OF - timedelta(days=500), AS_OF + timedelta(days=30), AS_OF - timedelta(days=500)),
    )
    for user in users:
        _seed_user(db, user)
    db.execute(
        "INSERT INTO intel.audit_log (actor, action, target, at) VALUES "
        "('ops', 'blocklist.add', 'wallet', %s), ('ops', 'blocklist.add', 'ip', %s)",
        (AS_OF - timedelta(days=400), AS_OF - timedelta(days=10)),
    )


def _seed_user(db: psycopg.Connection, user: int) -> None:
    created = AS_OF - timedelta(days=450)
    email = f"person{user}@example.com"
    db.execute(
        "INSERT INTO marketplace.users (user_id, email, display_name, country, created_at) VALUES (%s, %s, %s, 'FR', %s)",
        (user, email, f"Person Number{user}", created),
    )
    db.execute(
        "INSERT INTO intel.users (user_id, email_hash, country, created_at, updated_at) VALUES (%s, %s, 'FR', %s, %s)",
        (user, f"hash-of-{email}", created, created),
    )
    for table in ("marketplace.wallets", "intel.wallets"):
        extra = ", updated_at" if table == "intel.wallets" else ""
        db.execute(
            f"INSERT INTO {table} (address, user_id, created_at{extra}) VALUES (%s, %s, %s{', %s' if extra else ''})",
            (wallet(user), user, created, *((created,) if extra else ())),
        )
    for n, age in enumerate(AGES):
        at = AS_OF - timedelta(days=age, minutes=user)
        key = user * 100 + n
        _seed_purchase(db, user, key, n, at)
        db.execute(
            "INSERT INTO marketplace.sessions (session_id, user_id, ip, user_agent, started_at) VALUES (%s, %s, %s, %s, %s)",
            (key, user, ip(user, n), f"Browser/{user}.{n} secret-agent", at),
        )
        db.execute(
            "INSERT INTO intel.sessions (session_id, user_id, ip, user_agent_hash, started_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (key, user, ip(user, n), f"ua-hash-{user}-{n}", at, at),
        )
        db.execute(
            "INSERT INTO marketplace.login_attempts (attempt_id, user_id, email, ip, success, attempted_at) "
            "VALUES (%s, %s, %s, %s, true, %s)",
            (key, user, email, ip(user, n), at),
        )
        db.execute(
            "INSERT INTO intel.login_attempts (attempt_id, user_id, email_hash, ip, success, is_admin, attempted_at, "
            "updated_at) VALUES (%s, %s, %s, %s, true, false, %s, %s)",
            (key, user, f"hash-of-{email}", ip(user, n), at, at),
        )


def _seed_purchase(db: psycopg.Connection, user: int, key: int, n: int, at: datetime) -> None:
    txn = f"txn-{key}"
    db.execute(
        "INSERT INTO marketplace.tickets (ticket_id, event_id, seat, face_value, minted_at) VALUES (%s, 1, %s, 50, %s)",
        (key, f"S{key}", at - timedelta(days=1)),
    )
    db.execute(
        "INSERT INTO intel.tickets (ticket_id, event_id, face_value, minted_at, updated_at) VALUES (%s, 1, 50, %s, %s)",
        (key, at - timedelta(days=1), at),
    )
    db.execute(
        """INSERT INTO marketplace.orders (order_id, transaction_id, ticket_id, event_id, buyer_user_id,
               buyer_wallet, kind, price, fee, payment_type, payment_instrument, client_ip, status, created_at)
           VALUES (%s, %s, %s, 1, %s, %s, 'primary', 50.10, 2.55, 'card', %s, %s, 'completed', %s)""",
        (key, txn, key, user, wallet(user), f"card-fp-{user}-secret", ip(user, n), at),
    )
    db.execute(
        """INSERT INTO intel.transactions (transaction_id, order_id, ticket_id, event_id, user_id, wallet_address,
               kind, price_paid, fee, payment_instrument, client_ip, geo_country, geo_lat, geo_lon, status,
               occurred_at, updated_at)
           VALUES (%s, %s, %s, 1, %s, %s, 'primary', 50.10, 2.55, %s, %s, 'FR', 48.8566, 2.3522, 'completed', %s, %s)""",
        (txn, key, key, user, wallet(user), f"card-fp-{user}-secret", ip(user, n), at, at),
    )
    db.execute(
        """INSERT INTO intel.fraud_predictions (transaction_id, wallet_address, ticket_id, price_paid, fraud_score,
               decision, confidence, features, top_features, model_version, client_ip_hash, created_at)
           VALUES (%s, %s, %s, 50.10, 0.1, 'APPROVED', 0.9, %s, '[]', 'm1', %s, %s)""",
        (txn, wallet(user), str(key), json.dumps({"velocity": 1}), f"iphash-{user}-{n}", at),
    )
    data = {
        "order_id": key,
        "buyer_user_id": user,
        "buyer_ip": ip(user, n),
        "payment_instrument": f"card-fp-{user}-secret",
    }
    db.execute(
        "INSERT INTO ingest.events (event_id, type, occurred_at, data) VALUES (%s, 'order.paid', %s, %s)",
        (f"evt-{key}", at, json.dumps(data)),
    )


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        location = {"LocationConstraint": "eu-west-1"}
        client.create_bucket(Bucket=ARCHIVE, CreateBucketConfiguration=location)
        client.create_bucket(
            Bucket=AUDIT, CreateBucketConfiguration=location, ObjectLockEnabledForBucket=True
        )
        client.put_object_lock_configuration(
            Bucket=AUDIT,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": LOCK_DAYS}},
            },
        )
        yield client


@pytest.fixture
def stores(s3: Any) -> Stores:
    return Stores(S3Store(ARCHIVE, client=s3), S3Store(AUDIT, client=s3, lock_days=LOCK_DAYS))

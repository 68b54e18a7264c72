"""Issue 16 item 5: after `gdpr erase`, a scan of PostgreSQL, Redis and the archive finds no personal
field of that user (and still finds the other users': the scan can see); idempotent, audited; an
unknown user is a clear error; `gdpr export` returns the user's data, archived rows decrypted."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import redis as redis_lib

from shared.errors import NotFound
from shared.retention import codec, gdpr
from shared.retention.job import run_retention
from shared.retention.policy import POLICIES
from shared.retention.shred import key_id_of
from shared.retention.store import Stores
from tests.integration.retention.conftest import AGES, AS_OF, seed, wallet
from tests.integration.retention.conftest import ip as ip_of
from tooling.cli import main


def personal(user: int) -> list[str]:
    """Every personal value the seed gives the user (wallet addresses are public chain data, kept)."""
    return [
        f"person{user}@example.com",
        f"Person Number{user}",
        f"card-fp-{user}-secret",
        f"Browser/{user}.",
        f"ua-hash-{user}-",
        f"iphash-{user}-",
        *(f'{ip_of(user, n)}"' for n in range(len(AGES))),  # quoted: 203.0.1.10 is not 203.0.1.100
    ]


def postgres_text(db: psycopg.Connection) -> str:
    tables = db.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema IN ('marketplace', 'intel', 'ingest', 'retention') AND table_type = 'BASE TABLE'"
    ).fetchall()
    return "\n".join(
        json.dumps([str(v) for v in row])
        for (table,) in tables
        for row in db.execute(f"SELECT * FROM {table}")
    )


def redis_text(client: redis_lib.Redis) -> str:
    parts = []
    for key in client.scan_iter("*"):
        kind = client.type(key)
        value: Any = client.hgetall(key) if kind == b"hash" else client.get(key) if kind == b"string" else ""
        parts.append(f"{key!r} {value!r}")
    return "\n".join(parts)


def archive_text(stores: Stores) -> str:
    parts = []
    for store in (stores.archive, stores.audit):
        for key in store.keys(""):
            body = store.get(key)
            parts.append(gzip.decompress(body).decode() if key.endswith(".gz") else body.decode())
    return "\n".join(parts)


def _cache(client: redis_lib.Redis, user: int) -> None:
    client.hset(f"tg:f:wallet:{wallet(user)}", mapping={"avg_ticket_hold_time": "3.5"})
    client.set(f"tg:rt:loc:{user}", json.dumps({"lat": 48.85, "lon": 2.35, "ip": ip_of(user, 11)}))
    client.set(f"tg:bl:ip:{ip_of(user, 11)}", "0")
    client.set(f"tg:wu:{wallet(user)}", str(user))


@pytest.fixture
def archived(
    database_url: str, db: psycopg.Connection, stores: Stores, redis_client: redis_lib.Redis
) -> Stores:
    seed(db)
    for user in (1, 2):
        _cache(redis_client, user)
    with psycopg.connect(database_url) as conn:
        run_retention(conn, stores, AS_OF, batch_rows=50)
    return stores


def test_given_an_archived_user_when_erased_then_no_personal_field_is_left_anywhere(
    database_url: str, db: psycopg.Connection, archived: Stores, redis_client: redis_lib.Redis
) -> None:
    # Given user 1's data hot, cached and archived: export finds it all, archived rows decrypted
    with psycopg.connect(database_url) as conn:
        before = gdpr.export(conn, archived, 1)
    assert {"marketplace.orders", "intel.transactions", "intel.fraud_predictions", "ingest.events"} <= set(
        before["archive"]
    )
    assert ip_of(1, 0) in json.dumps(before["archive"]) and ip_of(1, 11) in json.dumps(before["postgresql"])
    assert all(value not in archive_text(archived) for value in personal(1))  # only ciphertext there
    # When the user is erased
    with psycopg.connect(database_url) as conn:
        result = gdpr.erase(conn, redis_client, 1, actor="test")
    assert result["status"] == "erased" and result["archive_keys_shredded"] >= 1
    # Then no scan finds any personal field of user 1, and each still finds user 2's
    scans = {"postgresql": postgres_text(db), "redis": redis_text(redis_client)}
    for where, text in scans.items():
        assert [v for v in personal(1) if v in text] == [], where
    assert "person2@example.com" in scans["postgresql"] and wallet(2) in scans["redis"]
    assert wallet(1) not in scans["redis"] and "tg:rt:loc:1'" not in scans["redis"]
    # And the archive cannot be read for user 1 any more (its keys are gone), while user 2's can
    with psycopg.connect(database_url) as conn:
        after = gdpr.export(conn, archived, 1)
        other = gdpr.export(conn, archived, 2)
    assert after["archive"] == {} and after["erased_at"] is not None
    assert ip_of(2, 0) in json.dumps(other["archive"])
    assert [v for v in personal(1) if v in json.dumps(after)] == []


def test_given_an_erased_user_when_erased_again_then_it_is_a_no_op_and_both_requests_are_audited(
    database_url: str, db: psycopg.Connection, archived: Stores, redis_client: redis_lib.Redis
) -> None:
    with psycopg.connect(database_url) as conn:
        first = gdpr.erase(conn, redis_client, 2, actor="test")
        second = gdpr.erase(conn, redis_client, 2, actor="test")
    assert first["status"] == "erased" and second["status"] == "already_erased"
    audits = db.execute(
        "SELECT details FROM intel.audit_log WHERE action = 'gdpr.erase' AND target = 'user:2' ORDER BY audit_id"
    ).fetchall()
    assert [bool(d.get("already_erased")) for (d,) in audits] == [False, True]
    assert "person2@example.com" not in json.dumps([d for (d,) in audits])


def test_given_an_unknown_user_when_erased_or_exported_then_a_clear_error_and_exit_code_1(
    database_url: str, db: psycopg.Connection, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db, users=(1,))
    with psycopg.connect(database_url) as conn, pytest.raises(NotFound, match="unknown user 999"):
        gdpr.erase(conn, None, 999, actor="test")
    assert main(["gdpr", "erase", "--user", "999"]) == 1
    assert "ticketguard gdpr: unknown user 999" in capsys.readouterr().err
    assert main(["gdpr", "export", "--user", "999"]) == 1
    # And a known user through the same command line: erased, exit 0
    assert main(["gdpr", "erase", "--user", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "erased"


UNLINKED = wallet(9)
PREDICTIONS = tuple(p for p in POLICIES if p.table == "intel.fraud_predictions")
SECRET_HASH = "iphash-of-the-unlinked-wallet"


def _archived_prediction(stores: Stores, address: str) -> dict[str, Any]:
    [found] = [
        row
        for key in stores.archive.keys("ml-predictions/intel_fraud_predictions/")
        for row in codec.parse(stores.archive.get(key))
        if row["wallet_address"] == address
    ]
    return found


def _key_ids(db: psycopg.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT key_id::text FROM retention.subject_keys")}


def test_given_a_prediction_archived_before_its_wallet_was_linked_when_the_user_is_erased_then_its_key_is_gone(
    database_url: str, db: psycopg.Connection, stores: Stores, redis_client: redis_lib.Redis
) -> None:
    # Given a prediction for a wallet no user is linked to yet, archived under the wallet's own key
    seed(db, users=(1, 2))
    db.execute(
        """INSERT INTO intel.fraud_predictions (transaction_id, wallet_address, ticket_id, price_paid, fraud_score,
               decision, confidence, features, top_features, model_version, client_ip_hash, created_at)
           VALUES ('txn-unlinked', %s, '7', 20, 0.2, 'APPROVED', 0.8, '{}', '[]', 'm1', %s, %s)""",
        (UNLINKED, SECRET_HASH, AS_OF - timedelta(days=200)),
    )
    with psycopg.connect(database_url) as conn:
        assert run_retention(conn, stores, AS_OF, batch_rows=50, policies=PREDICTIONS).complete
    sealed = _archived_prediction(stores, UNLINKED)["client_ip_hash"]
    key_id = key_id_of(sealed)
    assert SECRET_HASH not in archive_text(stores) and key_id in _key_ids(db)
    # And the wallet linked to user 1 afterwards: user 1's export now decrypts that row
    db.execute(
        "INSERT INTO marketplace.wallets (address, user_id, created_at) VALUES (%s, 1, %s)", (UNLINKED, AS_OF)
    )
    with psycopg.connect(database_url) as conn:
        before = gdpr.export(conn, stores, 1)
    assert SECRET_HASH in json.dumps(before["archive"])
    # When user 1 is erased
    with psycopg.connect(database_url) as conn:
        gdpr.erase(conn, redis_client, 1, actor="test")
    # Then the wallet's key is gone with the user's: no key left can decrypt the archived row, and the
    # export (the code that decrypts the archive) finds nothing of it
    assert key_id not in _key_ids(db)
    with psycopg.connect(database_url) as conn:
        after = gdpr.export(conn, stores, 1)
        other = gdpr.export(conn, stores, 2)
    assert after["archive"] == {}
    assert SECRET_HASH not in json.dumps(after) and SECRET_HASH not in json.dumps(other)
    # And the other user's archive still reads (the erasure took only user 1's keys)
    assert "iphash-2-0" in json.dumps(other["archive"])

"""Issue 21 item 5, the keys: the database alone decrypts nothing (subject keys wrapped under a master
key: KMS in AWS, here moto's; a local master key on a laptop), an archive written before the change
(v1, keys in clear) stays readable and its keys are sealed, and crypto-shredding still works."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from shared.errors import ConfigurationError
from shared.retention import codec, gdpr
from shared.retention.job import run_retention
from shared.retention.keyring import PURPOSE, Keyring, KmsMasterKey, LocalMasterKey, keyring_from_settings
from shared.retention.policy import policy
from shared.retention.shred import SubjectKeys, keys_by_id
from shared.retention.store import LocalStore, Stores
from tests.integration.retention.conftest import AS_OF, seed
from tests.integration.retention.conftest import ip as ip_of

V1_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "retention_v1"
ORDERS = policy("marketplace.orders")


def _first_sealed(stores: Stores, column: str = "client_ip") -> str:
    store = stores.of(ORDERS.data_type.bucket)
    for key in store.keys(ORDERS.location):
        for row in codec.parse(store.get(key)):
            if row.get(column):
                return str(row[column])
    raise AssertionError("no archived marketplace.orders row")


def _opens_with(candidate: bytes, value: str) -> bool:
    """Whether `candidate`, taken as a subject key, opens the archived value (either format)."""
    key_id = value.split(":")[2]
    try:
        return SubjectKeys({"s": (key_id, candidate)}).decrypt(f"{ORDERS.table}.client_ip", value) is not None
    except ValueError:  # IntegrityError (does not verify), or not a 32-byte key
        return False


def test_given_an_archive_when_the_key_tables_are_dumped_then_nothing_in_them_opens_an_archived_field(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    # Given a retention run with the local master key (TG_ARCHIVE_MASTER_KEY, tests/conftest.py)
    seed(db)
    stores = Stores(LocalStore(tmp_path / "archive"), LocalStore(tmp_path / "audit"))
    with psycopg.connect(database_url) as conn:
        run_retention(conn, stores, AS_OF, batch_rows=50)
    value = _first_sealed(stores)
    # When everything the retention schema holds is dumped (a pg_dump or a snapshot of it)
    dumped = [
        bytes(cell)
        for (table,) in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'retention'"
        ).fetchall()
        for row in db.execute(f"SELECT * FROM retention.{table}").fetchall()
        for cell in row
        if isinstance(cell, bytes | memoryview)
    ]
    assert dumped  # the keys are there, in some form
    # Then no 32 bytes of it (every window of every stored value) opens the archived field
    windows = {cell[i : i + 32] for cell in dumped for i in range(0, max(len(cell) - 31, 1))}
    assert not [w for w in windows if _opens_with(w, value)]
    # And no stored key is there in clear: every row holds its key wrapped, none raw
    assert db.execute("SELECT count(*) FROM retention.subject_keys WHERE key IS NOT NULL").fetchone() == (0,)


def test_given_the_dumped_key_tables_then_only_the_master_key_opens_them(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    # Given an archive and its key tables
    seed(db, users=(1,))
    stores = Stores(LocalStore(tmp_path / "archive"), LocalStore(tmp_path / "audit"))
    with psycopg.connect(database_url) as conn:
        run_retention(conn, stores, AS_OF, batch_rows=50)
    value = _first_sealed(stores)
    key_id = value.split(":")[2]
    # When another master key (a stolen dump, restored anywhere else) tries to unwrap them: refused
    with psycopg.connect(database_url) as conn, pytest.raises(ConfigurationError, match="wrapped by local:"):
        keys_by_id(conn, Keyring(LocalMasterKey(bytes(64))), [key_id])
    # Then with the master key the same rows open the field
    with psycopg.connect(database_url) as conn:
        keys = keys_by_id(conn, keyring_from_settings(), [key_id])
    opened = keys.decrypt(f"{ORDERS.table}.client_ip", value)
    assert opened is not None and opened.startswith("203.0.1.")


def _load_v1_archive(db: psycopg.Connection, root: Path) -> Stores:
    """The archive and the clear subject keys as the code before issue 21 left them."""
    shutil.copytree(V1_FIXTURE / "archive", root / "archive")
    shutil.copytree(V1_FIXTURE / "audit", root / "audit")
    rows = json.loads((V1_FIXTURE / "subject_keys.json").read_text())
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO retention.subject_keys (subject, key_id, key) VALUES (%s, %s, %s)",
            [(r["subject"], r["key_id"], bytes.fromhex(r["key_hex"])) for r in rows],
        )
    db.commit()
    return Stores(LocalStore(root / "archive"), LocalStore(root / "audit"))


def test_given_a_v1_archive_from_before_issue_21_then_export_reads_it_seals_its_keys_and_erasure_shreds_it(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    # Given the archive the v1 code wrote (tests/fixtures/retention_v1/make_fixture.py), its keys in clear
    seed(db)
    stores = _load_v1_archive(db, tmp_path)
    # When user 1 exports their data with today's code
    with psycopg.connect(database_url) as conn:
        exported = gdpr.export(conn, stores, 1)
    # Then the v1 fields open: the oldest IP (archived 400 days back) is there, decrypted
    archived = json.dumps(exported["archive"])
    assert "enc:v1:" not in archived and ip_of(1, 0) in archived and "card-fp-1-secret" in archived
    # And the clear keys were sealed under the master key on the way (the same keys, wrapped)
    assert db.execute("SELECT count(*) FROM retention.subject_keys WHERE key IS NOT NULL").fetchone() == (0,)
    # And one subject key reads both formats: v1 from before, v2 from now on
    old = json.loads((V1_FIXTURE / "subject_keys.json").read_text())
    with psycopg.connect(database_url) as conn:
        keys = SubjectKeys.ensure(conn, keyring_from_settings(), ["user:1"])
    assert keys.key_id("user:1") == next(r["key_id"] for r in old if r["subject"] == "user:1")
    assert keys.decrypt("t.c", keys.encrypt("user:1", "t.c", "new")) == "new"
    # When user 1 is erased, Then the v1 archive of user 1 no longer opens; user 2's still does
    with psycopg.connect(database_url) as conn:
        gdpr.erase(conn, None, 1, actor="test")
    with psycopg.connect(database_url) as conn:
        assert gdpr.export(conn, stores, 1)["archive"] == {}
        assert ip_of(2, 0) in json.dumps(gdpr.export(conn, stores, 2)["archive"])


@pytest.fixture
def kms() -> Any:
    with mock_aws():
        client = boto3.client("kms", region_name="eu-west-1")
        key = client.create_key(Description="archive subject keys")["KeyMetadata"]["Arn"]
        calls: Counter[str] = Counter()
        requests: list[dict[str, Any]] = []

        def count(params: dict[str, Any], model: Any, **_: Any) -> None:
            calls[model.name] += 1
            requests.append(params)

        client.meta.events.register("provide-client-params.kms.*", count)
        yield client, key, calls, requests


def test_given_kms_as_master_key_then_a_run_makes_one_kms_call_per_kek_never_one_per_subject(
    database_url: str, db: psycopg.Connection, tmp_path: Path, kms: Any
) -> None:
    client, key_arn, calls, requests = kms
    # Given six subjects over many batches (batches of 4 rows)
    seed(db, users=(1, 2, 3, 4, 5, 6))
    stores = Stores(LocalStore(tmp_path / "archive"), LocalStore(tmp_path / "audit"))
    # When a first run archives with KMS as master key
    with psycopg.connect(database_url) as conn:
        run = run_retention(
            conn, stores, AS_OF, batch_rows=4, keyring=Keyring(KmsMasterKey(key_arn, client=client))
        )
    assert run.as_dict()["batches"] >= 20
    assert db.execute("SELECT count(*) FROM retention.subject_keys").fetchone() == (6,)
    # Then KMS was asked once: one GenerateDataKey for the key-encryption key, within KMS's limits
    assert calls == Counter({"GenerateDataKey": 1})
    [made] = requests
    assert made["NumberOfBytes"] == 64 and made["NumberOfBytes"] <= 1024
    assert made["EncryptionContext"]["purpose"] == PURPOSE
    [stored] = db.execute("SELECT master, wrapped FROM retention.wrapping_keys").fetchall()
    assert stored[0] == f"kms:{key_arn}" and len(bytes(stored[1])) <= 6144
    # When another invocation (a fresh keyring) reads the archive back for an export
    with psycopg.connect(database_url) as conn:
        exported = gdpr.export(conn, stores, 1, keyring=Keyring(KmsMasterKey(key_arn, client=client)))
    # Then one KMS Decrypt opened everything it needed
    assert ip_of(1, 0) in json.dumps(exported["archive"])
    assert calls == Counter({"GenerateDataKey": 1, "Decrypt": 1})
    assert requests[-1]["EncryptionContext"]["purpose"] == PURPOSE


def test_given_a_kms_key_it_cannot_use_then_the_run_fails_clearly_and_deletes_nothing(
    database_url: str, db: psycopg.Connection, tmp_path: Path, kms: Any
) -> None:
    client, key_arn, _, _ = kms
    # Given a master key KMS does not have (deleted, or another account's): moto does not enforce a
    # disabled key's state, so the refusal is KMS's NotFoundException
    seed(db, users=(1,))
    key_arn = key_arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    stores = Stores(LocalStore(tmp_path / "archive"), LocalStore(tmp_path / "audit"))
    before = db.execute("SELECT count(*) FROM marketplace.orders").fetchone()
    # When retention runs, Then it stops with the reason, and every row is still in PostgreSQL
    with (
        psycopg.connect(database_url) as conn,
        pytest.raises(ConfigurationError, match="KMS generate_data_key"),
    ):
        run_retention(
            conn, stores, AS_OF, batch_rows=50, keyring=Keyring(KmsMasterKey(key_arn, client=client))
        )
    assert db.execute("SELECT count(*) FROM marketplace.orders").fetchone() == before
    assert not list(stores.archive.keys(ORDERS.location))


class Crash(Exception):
    pass


def test_given_a_crash_after_writing_when_the_next_invocation_rewrites_the_batch_then_it_is_byte_identical(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    # Given a run that dies right after writing its first marketplace.orders batch (personal fields sealed)
    seed(db, users=(1, 2))
    stores = Stores(LocalStore(tmp_path / "archive"), LocalStore(tmp_path / "audit"))
    written: list[str] = []

    def crash(step: str, batch: Any) -> None:
        if step == "written":
            written.append(batch.object_key)
            raise Crash(batch.object_key)

    with psycopg.connect(database_url) as conn, pytest.raises(Crash):
        run_retention(conn, stores, AS_OF, batch_rows=50, hook=crash, policies=(ORDERS,))
    [object_key] = written
    first = stores.archive.get(object_key)
    assert "enc:v2:" in codec.parse(first)[0]["client_ip"]
    # When the next invocation (a new keyring: the keys unwrapped again) resumes and rewrites it
    rewritten: list[bytes] = []

    def capture(step: str, batch: Any) -> None:
        if step == "written" and batch.object_key == object_key:
            rewritten.append(stores.archive.get(object_key))

    with psycopg.connect(database_url) as conn:
        run_retention(conn, stores, AS_OF, batch_rows=50, hook=capture, policies=(ORDERS,))
    # Then the object is the same bytes
    assert rewritten == [first]

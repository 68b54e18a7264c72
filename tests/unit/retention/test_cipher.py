"""Issue 21 item 5, the cipher: archived personal fields are RFC 5297 AES-SIV from `cryptography`
(deterministic), fields written before (v1, the hand-built SIV) still open, and the local master key
that stands in for KMS."""

from __future__ import annotations

import base64
import gzip
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.errors import ConfigurationError
from shared.retention.shred import SubjectKeys, key_id_of

KEY = bytes(range(32))
V1_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "retention_v1"


def _reference_aes_siv(subject_key: bytes, column: str, plaintext: str) -> bytes:
    """What the archive must hold: RFC 5297 AES-SIV (cryptography's, i.e. OpenSSL's) under the
    HKDF-SHA256 expansion of the subject key, the column as associated data."""
    siv_key = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=None, info=b"ticketguard archive field AES-SIV v2"
    ).derive(subject_key)
    return AESSIV(siv_key).encrypt(plaintext.encode(), [column.encode()])


def test_given_rfc_5297_appendix_a1_then_the_library_primitive_is_aes_siv() -> None:
    # Given RFC 5297's deterministic test vector (A.1): the primitive the archive uses is that algorithm
    key = bytes.fromhex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
    ad = bytes.fromhex("101112131415161718191a1b1c1d1e1f2021222324252627")
    plaintext = bytes.fromhex("112233445566778899aabbccddee")
    expected = "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c"
    assert AESSIV(key).encrypt(plaintext, [ad]).hex() == expected


@pytest.mark.parametrize("plaintext", ["", "a", "203.0.113.45", "x" * 16, "y" * 17, "ünïcode " * 40])
def test_given_a_personal_field_when_archived_then_it_is_rfc_5297_aes_siv_and_deterministic(
    plaintext: str,
) -> None:
    # Given a subject's key, When a field is sealed the way the archiver seals it
    keys = SubjectKeys({"user:1": ("k-1", KEY)})
    value = keys.encrypt("user:1", "marketplace.orders.client_ip", plaintext)
    # Then it is the v2 format holding exactly RFC 5297 AES-SIV's output (no hand-built construction)
    assert value.startswith("enc:v2:k-1:") and key_id_of(value) == "k-1"
    sealed = base64.urlsafe_b64decode(value.rsplit(":", 1)[1])
    assert sealed == _reference_aes_siv(KEY, "marketplace.orders.client_ip", plaintext)
    # And it is deterministic (a rewritten batch is the same bytes) and opens back
    assert keys.encrypt("user:1", "marketplace.orders.client_ip", plaintext) == value
    assert keys.decrypt("marketplace.orders.client_ip", value) == plaintext


def test_given_a_sealed_field_when_altered_or_read_as_another_column_then_it_does_not_open() -> None:
    from shared.retention.cipher import IntegrityError

    keys = SubjectKeys({"user:1": ("k-1", KEY)})
    value = keys.encrypt("user:1", "t.email", "person@example.com")
    with pytest.raises(IntegrityError):
        keys.decrypt("t.ip", value)
    head, payload = value.rsplit(":", 1)
    altered = bytearray(base64.urlsafe_b64decode(payload))
    altered[-1] ^= 1
    with pytest.raises(IntegrityError):
        keys.decrypt("t.email", f"{head}:{base64.urlsafe_b64encode(bytes(altered)).decode()}")


def _v1_fixture_keys() -> SubjectKeys:
    rows = json.loads((V1_FIXTURE / "subject_keys.json").read_text())
    return SubjectKeys({r["subject"]: (r["key_id"], bytes.fromhex(r["key_hex"])) for r in rows})


def test_given_an_archive_written_before_issue_21_then_its_v1_fields_still_open() -> None:
    # Given intel.transactions as the v1 code archived it (tests/fixtures/retention_v1/make_fixture.py)
    keys = _v1_fixture_keys()
    opened = []
    for path in sorted((V1_FIXTURE / "archive" / "transaction-logs" / "intel_transactions").rglob("*.gz")):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            row = json.loads(line)
            assert row["client_ip"].startswith("enc:v1:")
            # When today's code reads it
            opened.append((row["user_id"], keys.decrypt("intel.transactions.client_ip", row["client_ip"])))
            card = keys.decrypt("intel.transactions.payment_instrument", row["payment_instrument"])
            assert card == f"card-fp-{row['user_id']}-secret"
    # Then every field opens to what the seed wrote (tests/integration/retention/conftest.py: 203.0.<user>.x)
    assert opened and all(ip is not None and ip.startswith(f"203.0.{user}.") for user, ip in opened)


def test_given_a_v1_field_when_altered_then_it_does_not_open() -> None:
    from shared.retention.cipher import IntegrityError

    keys = _v1_fixture_keys()
    [path, *_] = sorted((V1_FIXTURE / "archive" / "transaction-logs" / "intel_transactions").rglob("*.gz"))
    value = json.loads(gzip.decompress(path.read_bytes()).splitlines()[0])["client_ip"]
    head, payload = value.rsplit(":", 1)
    altered = bytearray(base64.urlsafe_b64decode(payload))
    altered[-1] ^= 1
    with pytest.raises(IntegrityError):
        keys.decrypt(
            "intel.transactions.client_ip", f"{head}:{base64.urlsafe_b64encode(bytes(altered)).decode()}"
        )
    with pytest.raises(IntegrityError):
        keys.decrypt("intel.transactions.payment_instrument", value)  # another column's


def test_given_no_local_master_key_file_then_it_is_made_once_private_and_reused(tmp_path: Path) -> None:
    from shared.retention.keyring import LocalMasterKey

    path = tmp_path / "state" / "archive-master.key"
    first = LocalMasterKey.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = LocalMasterKey.from_file(path)
    assert again.name == first.name and again.name.startswith("local:")
    kek, wrapped = first.generate("kek-1")
    assert len(kek) == 64 and again.unwrap("kek-1", wrapped) == kek
    with pytest.raises(ConfigurationError):
        again.unwrap("kek-2", wrapped)  # bound to its id (the encryption context)
    other = LocalMasterKey(bytes(64))
    with pytest.raises(ConfigurationError, match="does not open"):
        other.unwrap("kek-1", wrapped)


def test_given_a_bad_master_key_setting_then_it_is_refused_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from shared.retention.keyring import KmsMasterKey, master_key_from_settings
    from shared.retention.store import RetentionSettings

    monkeypatch.setenv("TG_ARCHIVE_MASTER_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(ConfigurationError, match="64 bytes"):
        master_key_from_settings(RetentionSettings())
    monkeypatch.setenv("TG_ARCHIVE_MASTER_KEY", "not base64!")
    with pytest.raises(ConfigurationError, match="base64"):
        master_key_from_settings(RetentionSettings())
    # A deployed function never falls back to a local key
    monkeypatch.delenv("TG_ARCHIVE_MASTER_KEY")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "retention")
    with pytest.raises(ConfigurationError, match="TG_ARCHIVE_KMS_KEY_ID"):
        master_key_from_settings(RetentionSettings())
    monkeypatch.setenv("TG_ARCHIVE_KMS_KEY_ID", "arn:aws:kms:eu-west-1:111122223333:key/k")
    master = master_key_from_settings(RetentionSettings(), client=object())
    assert isinstance(master, KmsMasterKey) and master.name == "kms:arn:aws:kms:eu-west-1:111122223333:key/k"

"""The subject keys under a master key (envelope encryption), so that a dump or snapshot of the
database alone decrypts nothing.

    master key (KMS key in AWS; a local master key on a laptop; never in the database)
      wraps  key-encryption keys (KEK, 64 bytes)          retention.wrapping_keys.wrapped
        wrap   subject keys (32 bytes, AES-SIV, RFC 5297)    retention.subject_keys.wrapped
          seal   the archive's personal fields (shared/retention/cipher.py)

In AWS a KEK is made by KMS GenerateDataKey and opened by KMS Decrypt, with an encryption context
naming its purpose and id (the function's IAM policy requires that purpose, CloudTrail shows the id).
A run makes at most one KMS call per KEK it needs (one Decrypt, or one GenerateDataKey the first time
ever), never one per subject or row: KMS's request quotas are per account and region, shared by every
caller. Subject keys are wrapped and unwrapped locally with the KEK. Locally the same code runs with
`LocalMasterKey` in place of KMS: a 64-byte key from TG_ARCHIVE_MASTER_KEY (base64) or a file created
once (TG_ARCHIVE_MASTER_KEY_FILE, default ~/.ticketguard/archive-master.key, mode 0600).

Crypto-shredding is unchanged: erasing a subject deletes its row, and with it the only (wrapped) copy
of its key. A `Keyring` lives for one run (one Lambda invocation): the unwrapped keys are not kept
between invocations.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from shared.errors import ConfigurationError, DependencyUnavailable
from shared.retention.cipher import SubjectKey

PURPOSE = "ticketguard-archive-subject-keys"  # the KMS encryption context's `purpose` (and the IAM condition)
KEK_BYTES = 64  # an AES-256-SIV key; KMS GenerateDataKey allows 1 to 1024 bytes
MASTER_BYTES = 64
_SUBJECT_KEY_AD = b"ticketguard subject key"
_CACHE_LIMIT = 200_000  # subject keys kept unwrapped in one run (about 100 MB at most)
DEFAULT_MASTER_KEY_FILE = Path.home() / ".ticketguard" / "archive-master.key"


def encryption_context(kek_id: str) -> dict[str, str]:
    return {"purpose": PURPOSE, "kek_id": kek_id}


class MasterKey(Protocol):
    name: str  # stored with each KEK: 'kms:<key ARN>' or 'local:<fingerprint>'

    def generate(self, kek_id: str) -> tuple[bytes, bytes]:
        """A new KEK: (plaintext, wrapped)."""
        ...

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes: ...


class KmsMasterKey:
    """A KMS symmetric key: GenerateDataKey makes a KEK, Decrypt opens one; nothing else."""

    _TRANSIENT = frozenset(
        {
            "ThrottlingException",
            "KMSInternalException",
            "DependencyTimeoutException",
            "KeyUnavailableException",
        }
    )

    def __init__(self, key_id: str, *, client: Any = None) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client("kms", config=Config(retries={"mode": "standard", "max_attempts": 5}))
        self.key_id = key_id
        self.name = f"kms:{key_id}"
        self.client = client

    def generate(self, kek_id: str) -> tuple[bytes, bytes]:
        answer = self._call(
            "generate_data_key",
            KeyId=self.key_id,
            NumberOfBytes=KEK_BYTES,
            EncryptionContext=encryption_context(kek_id),
        )
        return answer["Plaintext"], answer["CiphertextBlob"]

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes:
        answer = self._call(
            "decrypt", CiphertextBlob=wrapped, KeyId=self.key_id, EncryptionContext=encryption_context(kek_id)
        )
        plaintext: bytes = answer["Plaintext"]
        return plaintext

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer: dict[str, Any] = getattr(self.client, operation)(**params)
            return answer
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = f"KMS {operation} with {self.key_id} failed: {code}"
            if code in self._TRANSIENT:
                raise DependencyUnavailable(message) from exc
            raise ConfigurationError(message) from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"KMS {operation} with {self.key_id} failed: {exc}") from exc


class LocalMasterKey:
    """The laptop's stand-in for KMS: KEKs wrapped with AES-SIV under a 64-byte local key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != MASTER_BYTES:
            raise ConfigurationError(f"the local archive master key must be {MASTER_BYTES} bytes")
        self._siv = AESSIV(key)
        self.name = f"local:{hashlib.sha256(b'ticketguard master key id' + key).hexdigest()[:16]}"

    @classmethod
    def from_file(cls, path: Path) -> LocalMasterKey:
        """The key in `path`, created there (once, mode 0600) when it does not exist yet."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first: read theirs
            else:
                with os.fdopen(fd, "wb") as file:
                    file.write(base64.b64encode(os.urandom(MASTER_BYTES)) + b"\n")
        return cls(_decode(path.read_bytes(), str(path)))

    @classmethod
    def from_text(cls, text: str) -> LocalMasterKey:
        return cls(_decode(text.encode(), "TG_ARCHIVE_MASTER_KEY"))

    def _ad(self, kek_id: str) -> list[bytes]:
        return [json.dumps(encryption_context(kek_id), sort_keys=True).encode()]

    def generate(self, kek_id: str) -> tuple[bytes, bytes]:
        kek = os.urandom(KEK_BYTES)
        return kek, self._siv.encrypt(kek, self._ad(kek_id))

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes:
        try:
            return self._siv.decrypt(wrapped, self._ad(kek_id))
        except InvalidTag:
            raise ConfigurationError(f"key-encryption key {kek_id} does not open with {self.name}") from None


def _decode(text: bytes, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise ConfigurationError(f"{where}: the archive master key must be base64") from None
    if len(key) != MASTER_BYTES:
        raise ConfigurationError(f"{where}: the archive master key must be {MASTER_BYTES} bytes (base64)")
    return key


class Keyring:
    """One run's access to the subject keys: KEKs unwrapped once each, subject keys cached by id."""

    def __init__(self, master: MasterKey) -> None:
        self.master = master
        self._keks: dict[str, AESSIV] = {}
        self._current: str | None = None
        self._keys: dict[str, SubjectKey] = {}
        self._sealed_legacy = False

    # ------------------------------------------------------------------ KEKs
    def _kek(self, conn: psycopg.Connection, kek_id: str) -> AESSIV:
        kek = self._keks.get(kek_id)
        if kek is None:
            row = conn.execute(
                "SELECT master, wrapped FROM retention.wrapping_keys WHERE kek_id = %s", (kek_id,)
            ).fetchone()
            if row is None:
                raise ConfigurationError(f"key-encryption key {kek_id} is not in retention.wrapping_keys")
            if row[0] != self.master.name:
                raise ConfigurationError(
                    f"key-encryption key {kek_id} is wrapped by {row[0]}; this process has {self.master.name}"
                )
            kek = self._keks[kek_id] = AESSIV(self.master.unwrap(kek_id, bytes(row[1])))
        return kek

    def _current_kek(self, conn: psycopg.Connection) -> tuple[str, AESSIV]:
        """The newest KEK of this master key; the first one is made (and committed) when none exists."""
        if self._current is None:
            row = conn.execute(
                "SELECT kek_id::text FROM retention.wrapping_keys WHERE master = %s "
                "ORDER BY created_at DESC, kek_id LIMIT 1",
                (self.master.name,),
            ).fetchone()
            if row is None:
                kek_id = str(uuid.uuid4())
                plaintext, wrapped = self.master.generate(kek_id)
                conn.execute(
                    "INSERT INTO retention.wrapping_keys (kek_id, master, wrapped) VALUES (%s, %s, %s)",
                    (kek_id, self.master.name, wrapped),
                )
                conn.commit()
                self._keks[kek_id] = AESSIV(plaintext)
                self._current = kek_id
            else:
                self._current = row[0]
        return self._current, self._kek(conn, self._current)

    # ------------------------------------------------------------------ subject keys
    def wrap(self, conn: psycopg.Connection, key_id: str, subject: str, key: bytes) -> tuple[str, bytes]:
        kek_id, kek = self._current_kek(conn)
        return kek_id, kek.encrypt(key, [_SUBJECT_KEY_AD, key_id.encode(), subject.encode()])

    def subject_key(
        self, conn: psycopg.Connection, subject: str, key_id: str, kek_id: str, wrapped: bytes
    ) -> SubjectKey:
        cached = self._keys.get(key_id)
        if cached is not None:
            return cached
        try:
            raw = self._kek(conn, kek_id).decrypt(
                wrapped, [_SUBJECT_KEY_AD, key_id.encode(), subject.encode()]
            )
        except InvalidTag:
            raise ConfigurationError(f"the key of {key_id} does not unwrap: altered or moved") from None
        if len(self._keys) >= _CACHE_LIMIT:
            self._keys.clear()
        key = self._keys[key_id] = SubjectKey(key_id, raw)
        return key

    def new_keys(
        self, conn: psycopg.Connection, subjects: Iterable[str]
    ) -> list[tuple[str, str, str, bytes]]:
        """Fresh keys for `subjects`, wrapped: (subject, key id, kek id, wrapped) rows to insert."""
        rows = []
        for subject in subjects:
            key_id = str(uuid.uuid4())
            kek_id, wrapped = self.wrap(conn, key_id, subject, os.urandom(32))
            rows.append((subject, key_id, kek_id, wrapped))
        return rows

    def seal_legacy_keys(self, conn: psycopg.Connection, *, chunk: int = 5_000) -> int:
        """Wrap the keys stored in clear before issue 21 (once per run; idempotent, committed per chunk)."""
        if self._sealed_legacy:
            return 0
        sealed = 0
        if conn.execute("SELECT 1 FROM retention.subject_keys WHERE key IS NOT NULL LIMIT 1").fetchone():
            self._current_kek(conn)  # made (and committed) before any row is locked
        while True:
            rows = conn.execute(
                "SELECT subject, key_id::text, key FROM retention.subject_keys WHERE key IS NOT NULL "
                "ORDER BY subject LIMIT %s FOR UPDATE SKIP LOCKED",
                (chunk,),
            ).fetchall()
            if not rows:
                break
            updates = []
            for subject, key_id, key in rows:
                kek_id, wrapped = self.wrap(conn, key_id, subject, bytes(key))
                updates.append((kek_id, wrapped, subject))
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE retention.subject_keys SET key = NULL, kek_id = %s, wrapped = %s "
                    "WHERE subject = %s AND key IS NOT NULL",
                    updates,
                )
            conn.commit()
            sealed += len(rows)
        conn.commit()
        self._sealed_legacy = True
        return sealed


def master_key_from_settings(settings: Any = None, *, client: Any = None) -> MasterKey:
    """KMS when TG_ARCHIVE_KMS_KEY_ID is set (a deployed function must have it); else the local key."""
    from shared.retention.store import RetentionSettings

    settings = settings or RetentionSettings()
    if settings.archive_kms_key_id:
        return KmsMasterKey(settings.archive_kms_key_id, client=client)
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        raise ConfigurationError(
            "TG_ARCHIVE_KMS_KEY_ID is not set: a deployed function never uses a local master key"
        )
    if settings.archive_master_key is not None:
        return LocalMasterKey.from_text(settings.archive_master_key.get_secret_value())
    return LocalMasterKey.from_file(settings.archive_master_key_file or DEFAULT_MASTER_KEY_FILE)


def keyring_from_settings(settings: Any = None, *, client: Any = None) -> Keyring:
    return Keyring(master_key_from_settings(settings, client=client))

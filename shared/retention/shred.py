"""Crypto-shredding: each subject (a user, or a wallet no user is linked to) has its own data key in
PostgreSQL (retention.subject_keys), stored wrapped under the master key (shared/retention/keyring.py);
the archive holds a subject's personal fields only encrypted with it. Erasing the subject deletes the
key, which makes every archived copy unreadable at once, including objects under Object Lock that
nobody may rewrite or delete for years.

Fields are sealed with RFC 5297 AES-SIV from `cryptography` (shared/retention/cipher.py: v2), which is
deterministic: rewriting a batch after a crash writes the same bytes. Fields written before issue 21
(v1, a hand-built SIV) still open, read-only.

A field is written `enc:v2:<key id>:<base64url of the SIV tag + ciphertext>`; the key id is a random
UUID that names no one. NULL stays NULL.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

import psycopg

from shared.retention.cipher import PREFIXES, V2, IntegrityError, SubjectKey
from shared.retention.keyring import Keyring

__all__ = ["ANONYMOUS", "PREFIX", "IntegrityError", "SubjectKeys", "key_id_of", "keys_by_id", "shred"]

PREFIX = V2  # what the archiver writes now
ANONYMOUS = "anonymous"  # rows with no subject (a login attempt on an unknown account)


class SubjectKeys:
    """The keys a batch or an export needs, fetched once (and created for new subjects), unwrapped."""

    def __init__(self, by_subject: dict[str, tuple[str, bytes]] | None = None) -> None:
        self.by_subject: dict[str, SubjectKey] = {}
        self.by_id: dict[str, SubjectKey] = {}
        for subject, (key_id, raw) in (by_subject or {}).items():
            self._add(subject, SubjectKey(key_id, raw))

    def _add(self, subject: str, key: SubjectKey) -> None:
        self.by_subject[subject] = key
        self.by_id[key.key_id] = key

    @classmethod
    def ensure(
        cls, conn: psycopg.Connection, keyring: Keyring, subjects: Iterable[str | None]
    ) -> SubjectKeys:
        wanted = sorted({s or ANONYMOUS for s in subjects})
        keyring.seal_legacy_keys(conn)
        rows = _rows(conn, "subject", wanted)
        missing = sorted(set(wanted) - {row[0] for row in rows})
        if missing:
            new = keyring.new_keys(conn, missing)
            columns = [list(column) for column in zip(*new, strict=True)]
            conn.execute(
                "INSERT INTO retention.subject_keys (subject, key_id, kek_id, wrapped) "
                "SELECT * FROM unnest(%s::text[], %s::uuid[], %s::uuid[], %s::bytea[]) "
                "ON CONFLICT (subject) DO NOTHING",
                columns,
            )
            rows += _rows(conn, "subject", missing)  # ours, or a concurrent run's where it won the race
        return cls._from_rows(conn, keyring, rows)

    @classmethod
    def _from_rows(cls, conn: psycopg.Connection, keyring: Keyring, rows: list[tuple]) -> SubjectKeys:
        keys = cls()
        for subject, key_id, kek_id, wrapped in rows:
            keys._add(subject, keyring.subject_key(conn, subject, key_id, kek_id, bytes(wrapped)))
        return keys

    def key_id(self, subject: str | None) -> str:
        return self.by_subject[subject or ANONYMOUS].key_id

    def encrypt(self, subject: str | None, context: str, plaintext: str) -> str:
        key = self.by_subject[subject or ANONYMOUS]
        sealed = key.v2().seal(context, plaintext)
        return f"{PREFIX}{key.key_id}:{base64.urlsafe_b64encode(sealed).decode()}"

    def decrypt(self, context: str, value: str) -> str | None:
        """The plaintext (v2, or legacy v1), or None when the key is gone (shredded) or not loaded."""
        version = _version(value)
        if version is None:
            raise IntegrityError(f"a {context} field is not a sealed archive value")
        key_id, _, payload = value.removeprefix(version).partition(":")
        key = self.by_id.get(key_id)
        if key is None:
            return None
        return key.open(version, context, base64.urlsafe_b64decode(payload))


def _version(value: object) -> str | None:
    if isinstance(value, str):
        for prefix in PREFIXES:
            if value.startswith(prefix):
                return prefix
    return None


def key_id_of(value: object) -> str | None:
    version = _version(value)
    if version is None:
        return None
    assert isinstance(value, str)
    return value.removeprefix(version).partition(":")[0]


def shred(conn: psycopg.Connection, subjects: Iterable[str]) -> list[str]:
    """Delete the subjects' keys; returns the key ids that existed (for the erasure's audit)."""
    rows = conn.execute(
        "DELETE FROM retention.subject_keys WHERE subject = ANY(%s) RETURNING key_id::text",
        (sorted(set(subjects)),),
    ).fetchall()
    return sorted(row[0] for row in rows)


def keys_by_id(conn: psycopg.Connection, keyring: Keyring, key_ids: Iterable[str]) -> SubjectKeys:
    keyring.seal_legacy_keys(conn)
    return SubjectKeys._from_rows(conn, keyring, _rows(conn, "key_id::text", sorted(set(key_ids))))


def _rows(conn: psycopg.Connection, column: str, values: list[str]) -> list[tuple]:
    """The stored (wrapped) keys whose `column` (a constant of this module) is one of `values`."""
    return conn.execute(
        f"SELECT subject, key_id::text, kek_id::text, wrapped FROM retention.subject_keys WHERE {column} = ANY(%s)",
        (values,),
    ).fetchall()

"""Crypto-shredding: each subject (a user, or a wallet no user is linked to) has its own data key in
PostgreSQL (retention.subject_keys); the archive holds a subject's personal fields only encrypted
with it. Erasing the subject deletes the key, which makes every archived copy unreadable at once,
including objects under Object Lock that nobody may rewrite or delete for years.

AES-SIV (RFC 5297, deterministic authenticated encryption): the same plaintext under the same key
and column gives the same ciphertext, so rewriting a batch after a crash writes the same bytes, and
no random nonce can ever repeat. It reveals only that two fields of one subject are equal.

A field is written `enc:v1:<key id>:<base64url of tag + ciphertext>`; the key id is a random UUID
that names no one. NULL stays NULL.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable

import psycopg
from Crypto.Cipher import AES

PREFIX = "enc:v1:"
ANONYMOUS = "anonymous"  # rows with no subject (a login attempt on an unknown account)


class SubjectKeys:
    """The keys a batch or an export needs, fetched once (and created for new subjects)."""

    def __init__(self, by_subject: dict[str, tuple[str, bytes]]) -> None:
        self.by_subject = by_subject
        self.by_id = dict(by_subject.values())

    @classmethod
    def ensure(cls, conn: psycopg.Connection, subjects: Iterable[str | None]) -> SubjectKeys:
        wanted = sorted({s or ANONYMOUS for s in subjects})
        if wanted:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO retention.subject_keys (subject, key) VALUES (%s, %s) "
                    "ON CONFLICT (subject) DO NOTHING",
                    [(subject, os.urandom(32)) for subject in wanted],
                )
        return cls.load(conn, wanted)

    @classmethod
    def load(cls, conn: psycopg.Connection, subjects: Iterable[str]) -> SubjectKeys:
        rows = conn.execute(
            "SELECT subject, key_id::text, key FROM retention.subject_keys WHERE subject = ANY(%s)",
            (list(subjects),),
        ).fetchall()
        return cls({subject: (key_id, bytes(key)) for subject, key_id, key in rows})

    def key_id(self, subject: str | None) -> str:
        return self.by_subject[subject or ANONYMOUS][0]

    def encrypt(self, subject: str | None, context: str, plaintext: str) -> str:
        key_id, key = self.by_subject[subject or ANONYMOUS]
        cipher = AES.new(key, AES.MODE_SIV)
        cipher.update(context.encode())
        ciphertext, tag = cipher.encrypt_and_digest(plaintext.encode())
        return f"{PREFIX}{key_id}:{base64.urlsafe_b64encode(tag + ciphertext).decode()}"

    def decrypt(self, context: str, value: str) -> str | None:
        """The plaintext, or None when the key is gone (shredded) or not loaded."""
        key_id, _, payload = value.removeprefix(PREFIX).partition(":")
        key = self.by_id.get(key_id)
        if key is None:
            return None
        raw = base64.urlsafe_b64decode(payload)
        cipher = AES.new(key, AES.MODE_SIV)
        cipher.update(context.encode())
        return cipher.decrypt_and_verify(raw[16:], raw[:16]).decode()


def key_id_of(value: object) -> str | None:
    if isinstance(value, str) and value.startswith(PREFIX):
        return value.removeprefix(PREFIX).partition(":")[0]
    return None


def shred(conn: psycopg.Connection, subjects: Iterable[str]) -> list[str]:
    """Delete the subjects' keys; returns the key ids that existed (for the erasure's audit)."""
    rows = conn.execute(
        "DELETE FROM retention.subject_keys WHERE subject = ANY(%s) RETURNING key_id::text",
        (sorted(set(subjects)),),
    ).fetchall()
    return sorted(row[0] for row in rows)


def keys_by_id(conn: psycopg.Connection, key_ids: Iterable[str]) -> SubjectKeys:
    rows = conn.execute(
        "SELECT subject, key_id::text, key FROM retention.subject_keys WHERE key_id::text = ANY(%s)",
        (sorted(set(key_ids)),),
    ).fetchall()
    return SubjectKeys({subject: (key_id, bytes(key)) for subject, key_id, key in rows})

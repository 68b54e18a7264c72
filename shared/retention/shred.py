"""Crypto-shredding: each subject (a user, or a wallet no user is linked to) has its own data key in
PostgreSQL (retention.subject_keys); the archive holds a subject's personal fields only encrypted
with it. Erasing the subject deletes the key, which makes every archived copy unreadable at once,
including objects under Object Lock that nobody may rewrite or delete for years.

Deterministic authenticated encryption in the SIV construction (RFC 5297's shape, HMAC-SHA256 as
the PRF): the synthetic IV is HMAC(mac key, column || 0 || plaintext) truncated to 128 bits, the
plaintext is encrypted with AES-256-CTR from that IV, and the IV is the tag checked on decryption.
The same plaintext under the same key and column gives the same ciphertext, so rewriting a batch
after a crash writes the same bytes, and no random nonce can ever repeat; it reveals only that two
fields of one subject are equal. (pycryptodome's own AES-SIV costs 340 us a field in Python; this
one 24 us, which the archive's throughput needs: benchmarks/bench_retention.py.)

A field is written `enc:v1:<key id>:<base64url of IV + ciphertext>`; the key id is a random UUID
that names no one. NULL stays NULL.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
from collections.abc import Iterable

import psycopg
from Crypto.Cipher import AES

PREFIX = "enc:v1:"
ANONYMOUS = "anonymous"  # rows with no subject (a login attempt on an unknown account)


class SubjectKeys:
    """The keys a batch or an export needs, fetched once (and created for new subjects)."""

    def __init__(self, by_subject: dict[str, tuple[str, bytes]]) -> None:
        self.by_subject = {subject: (key_id, _sealer(key)) for subject, (key_id, key) in by_subject.items()}
        self.by_id = dict(self.by_subject.values())

    @classmethod
    def ensure(cls, conn: psycopg.Connection, subjects: Iterable[str | None]) -> SubjectKeys:
        wanted = sorted({s or ANONYMOUS for s in subjects})
        if wanted:
            conn.execute(
                "INSERT INTO retention.subject_keys (subject, key) SELECT * FROM unnest(%s::text[], %s::bytea[]) "
                "ON CONFLICT (subject) DO NOTHING",
                (wanted, [os.urandom(32) for _ in wanted]),
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
        key_id, sealer = self.by_subject[subject or ANONYMOUS]
        return f"{PREFIX}{key_id}:{base64.urlsafe_b64encode(sealer.seal(context, plaintext)).decode()}"

    def decrypt(self, context: str, value: str) -> str | None:
        """The plaintext, or None when the key is gone (shredded) or not loaded."""
        key_id, _, payload = value.removeprefix(PREFIX).partition(":")
        sealer = self.by_id.get(key_id)
        if sealer is None:
            return None
        return sealer.open(context, base64.urlsafe_b64decode(payload))


class IntegrityError(ValueError):
    """A sealed field that does not verify under its key: altered, or not this column's."""


class _Sealer:
    """The SIV construction over one subject key. CTR's keystream comes from one cached AES-ECB
    object (the counter blocks encrypted in one call): creating a CTR cipher per field costs more
    than the encryption itself. tests/unit/retention holds it equal to pycryptodome's MODE_CTR."""

    def __init__(self, key: bytes) -> None:
        self.enc_key = hashlib.sha256(b"ticketguard-archive-enc\0" + key).digest()
        self.mac_key = hashlib.sha256(b"ticketguard-archive-mac\0" + key).digest()
        self._ecb = AES.new(self.enc_key, AES.MODE_ECB)

    def _iv(self, context: str, plaintext: bytes) -> bytes:
        return hmac.new(self.mac_key, context.encode() + b"\0" + plaintext, hashlib.sha256).digest()[:16]

    def _ctr(self, iv: bytes, data: bytes) -> bytes:
        """AES-256-CTR from `iv` as a 128-bit big-endian counter (encryption = decryption)."""
        if not data:
            return b""
        first = int.from_bytes(iv, "big")
        counters = b"".join(((first + i) % _BLOCKS).to_bytes(16, "big") for i in range(-(-len(data) // 16)))
        stream = self._ecb.encrypt(counters)[: len(data)]
        return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")

    def seal(self, context: str, plaintext: str) -> bytes:
        data = plaintext.encode()
        iv = self._iv(context, data)
        return iv + self._ctr(iv, data)

    def open(self, context: str, sealed: bytes) -> str:
        iv, ciphertext = sealed[:16], sealed[16:]
        data = self._ctr(iv, ciphertext)
        if not hmac.compare_digest(iv, self._iv(context, data)):
            raise IntegrityError(f"a sealed {context} field does not verify")
        return data.decode()


_BLOCKS = 1 << 128


@functools.lru_cache(maxsize=65_536)
def _sealer(key: bytes) -> _Sealer:
    """A run meets the same subjects day after day: their derived keys and AES objects are reused."""
    return _Sealer(key)


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

"""The archive's field ciphers, by format version (the value's prefix says which one sealed it).

v2 (written since issue 21): RFC 5297 AES-SIV, deterministic authenticated encryption, from the
`cryptography` package (OpenSSL's implementation; no cryptography of our own). The AES-SIV key is
64 bytes (AES-256 for both S2V's CMAC and CTR), derived from the subject's 32-byte key by HKDF-SHA256
with a label naming this use; the associated data is the field's column (`table.column`), so a sealed
value does not open as another column's. No nonce: the same plaintext under the same key and column
is the same ciphertext, so a batch rewritten after a crash is the same bytes, and no random nonce can
repeat; it reveals only that two fields of one subject are equal (what RFC 5297 section 1.3.2 states).

v1 (written before issue 21): a SIV construction built by hand from HMAC-SHA256 and AES-256-CTR.
LEGACY, DECRYPT ONLY: kept so that the archive written before the change stays readable for GDPR
exports; nothing seals v1 any more. Its CTR runs in `cryptography` too.

A field is written `enc:v<N>:<key id>:<base64url of the sealed bytes>`.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

V1 = "enc:v1:"
V2 = "enc:v2:"
PREFIXES = (V1, V2)
SIV_KEY_INFO = b"ticketguard archive field AES-SIV v2"


class IntegrityError(ValueError):
    """A sealed field that does not verify under its key: altered, or not this column's."""


def siv_key(subject_key: bytes) -> bytes:
    """The 64-byte AES-SIV key of a subject's 32-byte key."""
    return HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=SIV_KEY_INFO).derive(subject_key)


class FieldCipher:
    """v2: AES-SIV (RFC 5297) over one subject key; the column is the associated data."""

    def __init__(self, subject_key: bytes) -> None:
        self._siv = AESSIV(siv_key(subject_key))

    def seal(self, context: str, plaintext: str) -> bytes:
        return self._siv.encrypt(plaintext.encode(), [context.encode()])

    def open(self, context: str, sealed: bytes) -> str:
        try:
            return self._siv.decrypt(sealed, [context.encode()]).decode()
        except InvalidTag:
            raise IntegrityError(f"a sealed {context} field does not verify") from None


class LegacyV1Opener:
    """LEGACY (format v1, before issue 21), DECRYPT ONLY. The hand-built SIV: the IV is
    HMAC-SHA256(mac key, column || 0 || plaintext)[:16], the plaintext AES-256-CTR from that IV as a
    128-bit big-endian counter, keys derived from the subject key by SHA-256 with labels. Do not add an
    encrypting counterpart: new fields are v2."""

    def __init__(self, subject_key: bytes) -> None:
        self._enc_key = hashlib.sha256(b"ticketguard-archive-enc\0" + subject_key).digest()
        self._mac_key = hashlib.sha256(b"ticketguard-archive-mac\0" + subject_key).digest()

    def open(self, context: str, sealed: bytes) -> str:
        iv, ciphertext = sealed[:16], sealed[16:]
        if len(iv) != 16:
            raise IntegrityError(f"a sealed {context} field is too short")
        decryptor = Cipher(algorithms.AES(self._enc_key), modes.CTR(iv)).decryptor()
        data = decryptor.update(ciphertext) + decryptor.finalize()
        expected = hmac.new(self._mac_key, context.encode() + b"\0" + data, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(iv, expected):
            raise IntegrityError(f"a sealed {context} field does not verify")
        return data.decode()


class SubjectKey:
    """One subject's key, unwrapped, with the ciphers of each format made on first use."""

    __slots__ = ("_raw", "_v1", "_v2", "key_id")

    def __init__(self, key_id: str, raw: bytes) -> None:
        if len(raw) != 32:
            raise ValueError("a subject key is 32 bytes")
        self.key_id = key_id
        self._raw = raw
        self._v2: FieldCipher | None = None
        self._v1: LegacyV1Opener | None = None

    def v2(self) -> FieldCipher:
        if self._v2 is None:
            self._v2 = FieldCipher(self._raw)
        return self._v2

    def v1(self) -> LegacyV1Opener:
        if self._v1 is None:
            self._v1 = LegacyV1Opener(self._raw)
        return self._v1

    def open(self, version: str, context: str, sealed: bytes) -> str:
        return (self.v2() if version == V2 else self.v1()).open(context, sealed)

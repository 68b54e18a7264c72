"""The baseline of `make bench-retention`: the archive's v1 field cipher as shared/retention/shred.py
wrote it before issue 21 (commit d173327), copied here unchanged so that the old cipher and the new one
are measured in the same run. A hand-built SIV (HMAC-SHA256 IV, AES-256-CTR from pycryptodome's ECB):
the reason it was replaced, kept only as the benchmark's yardstick. shared/ reads v1 fields with
shared.retention.cipher.LegacyV1Opener and never writes them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from Crypto.Cipher import AES

from shared.retention.shred import SubjectKeys

_BLOCKS = 1 << 128


class V1Sealer:
    def __init__(self, key: bytes) -> None:
        self.enc_key = hashlib.sha256(b"ticketguard-archive-enc\0" + key).digest()
        self.mac_key = hashlib.sha256(b"ticketguard-archive-mac\0" + key).digest()
        self._ecb = AES.new(self.enc_key, AES.MODE_ECB)

    def _iv(self, context: str, plaintext: bytes) -> bytes:
        return hmac.new(self.mac_key, context.encode() + b"\0" + plaintext, hashlib.sha256).digest()[:16]

    def _ctr(self, iv: bytes, data: bytes) -> bytes:
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


@functools.lru_cache(maxsize=65_536)
def v1_sealer(key: bytes) -> V1Sealer:
    return V1Sealer(key)


def encrypt_v1(self: SubjectKeys, subject: str | None, context: str, plaintext: str) -> str:
    """SubjectKeys.encrypt as it was: v1 fields (installed in place of the v2 method for the baseline)."""
    key = self.by_subject[subject or "anonymous"]
    sealed = v1_sealer(key._raw).seal(context, plaintext)
    return f"enc:v1:{key.key_id}:{base64.urlsafe_b64encode(sealed).decode()}"

"""The archive's bytes: gzip-compressed JSON lines, one object per row in key order, the columns of
the policy (Hive types: timestamps as `yyyy-MM-dd HH:mm:ss.ffffff` in UTC, JSON columns as JSON
text), read by Athena through the OpenX JSON SerDe. Deterministic: the same rows give the same
bytes (gzip without a timestamp), so a batch rewritten after a crash is the same object.

Why not Parquet: pyarrow 26.0.1 unzips to 156 MB (arm64) / 172 MB (x86_64); with the 90-97 MB
dependencies layer that is over Lambda's 250 MB before the function's own code (README: Retention).
"""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

CONTENT_TYPE = "application/x-ndjson"


def plain(value: Any) -> Any:
    """A PostgreSQL value as the archive writes it (before any encryption)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # numeric(12,2): at most 12 significant digits, which a double's shortest repr keeps exactly.
        return float(value)
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, ipaddress.IPv4Interface | ipaddress.IPv6Interface):
        return str(value.ip) if value.network.prefixlen == value.max_prefixlen else str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    raise TypeError(f"no archive form for {type(value).__name__}")


def as_text(value: Any) -> str:
    """The text an encrypted field holds (the plain value, JSON-encoded when not a string)."""
    return value if isinstance(value, str) else json.dumps(value)


def line(columns: Sequence[str], values: Sequence[Any]) -> bytes:
    return json.dumps(dict(zip(columns, values, strict=True)), separators=(",", ":")).encode() + b"\n"


def compress(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_lines(body: bytes) -> tuple[bytes, int]:
    """The uncompressed content of an archived object and its number of rows."""
    data = gzip.decompress(body)
    return data, data.count(b"\n")


def parse(body: bytes) -> list[dict[str, Any]]:
    data, _ = read_lines(body)
    return [json.loads(raw) for raw in data.splitlines() if raw]

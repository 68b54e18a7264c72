"""Label upload: a CSV of chargebacks (or other confirmed outcomes) -> intel.fraud_labels.

Columns, by header name (order free, other columns refused): `transaction_id` (required),
`labelled_at` (RFC 3339 with offset; default: now), `is_fraud` (true/false; default true: a
chargeback), `source` (chargeback, investigation, ban, customer_report; default chargeback). Each row
is checked on its own: a row naming a transaction the service never saw, a bad value or a repeated
transaction id is rejected with its line and reason; the valid rows are stored. As with ingested
labels, a label's newer `labelled_at` wins over the stored one (an older upload changes nothing).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from shared.errors import ValidationFailed

MAX_ROWS = 10_000
COLUMNS = ("transaction_id", "labelled_at", "is_fraud", "source")
SOURCES = ("chargeback", "investigation", "ban", "customer_report")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass
class LabelUpload:
    rows: int = 0
    stored: int = 0  # rows whose label is now the stored one
    unchanged: int = 0  # valid rows older than the label already stored
    rejected: list[dict[str, Any]] = field(default_factory=list)
    sha256: str = ""


@dataclass(frozen=True)
class _Label:
    transaction_id: str
    is_fraud: bool
    source: str
    labelled_at: datetime


def _header(reader: Any) -> list[str]:
    header = [name.strip().lower() for name in next(reader, [])]
    if "transaction_id" not in header:
        raise ValidationFailed("the CSV needs a header row with a transaction_id column", field="body")
    unknown = sorted(set(header) - set(COLUMNS))
    if unknown or len(set(header)) != len(header):
        raise ValidationFailed(
            f"unknown or repeated columns {unknown or header}; allowed: {', '.join(COLUMNS)}", field="body"
        )
    return header


def _parse_row(values: dict[str, str], now: datetime) -> _Label:
    txn = values.get("transaction_id", "").strip()
    if not txn or len(txn) > 128:
        raise ValueError("transaction_id: required, at most 128 characters")
    flag = values.get("is_fraud", "").strip().lower() or "true"
    if flag not in _BOOLEANS:
        raise ValueError(f"is_fraud: {flag!r} is not true or false")
    source = values.get("source", "").strip() or "chargeback"
    if source not in SOURCES:
        raise ValueError(f"source: {source!r} is not one of {', '.join(SOURCES)}")
    when = now
    if text := values.get("labelled_at", "").strip():
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if when.tzinfo is None:
            raise ValueError("labelled_at: give the offset (e.g. 2026-11-23T10:00:00Z)")
        if when > now:
            raise ValueError("labelled_at: in the future")
    return _Label(txn, _BOOLEANS[flag], source, when)


def parse(body: bytes, now: datetime | None = None) -> tuple[list[tuple[int, _Label]], LabelUpload]:
    """The valid rows with their line numbers, and the upload's report so far (rejected rows)."""
    now = now or datetime.now(UTC)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("the CSV is not UTF-8 text", field="body") from None
    reader = csv.reader(io.StringIO(text))
    header = _header(reader)
    report, labels, seen = LabelUpload(sha256=hashlib.sha256(body).hexdigest()), [], set()
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise ValidationFailed(f"at most {MAX_ROWS} rows per upload", field="body")
        try:
            if len(values) != len(header):
                raise ValueError(f"{len(values)} values for {len(header)} columns")
            label = _parse_row(dict(zip(header, values, strict=True)), now)
            if label.transaction_id in seen:
                raise ValueError(f"transaction_id: {label.transaction_id} appears twice in the upload")
        except ValueError as exc:
            report.rejected.append({"line": reader.line_num, "reason": str(exc)})
            continue
        seen.add(label.transaction_id)
        labels.append((reader.line_num, label))
    if report.rows == 0:
        raise ValidationFailed("the CSV has no rows", field="body")
    return labels, report


def store(conn: psycopg.Connection[Any], body: bytes) -> LabelUpload:
    """Parse and store an upload (in the caller's transaction)."""
    labels, report = parse(body)
    known = {
        row[0]
        for row in conn.execute(
            """SELECT transaction_id FROM intel.transactions WHERE transaction_id = ANY(%(ids)s)
               UNION SELECT transaction_id FROM intel.fraud_predictions WHERE transaction_id = ANY(%(ids)s)""",
            {"ids": [label.transaction_id for _, label in labels]},
        )
    }
    for line, label in labels:
        if label.transaction_id not in known:
            report.rejected.append(
                {"line": line, "reason": f"transaction_id: {label.transaction_id} is unknown"}
            )
            continue
        changed = conn.execute(
            """INSERT INTO intel.fraud_labels AS l (transaction_id, is_fraud, source, labelled_at)
               VALUES (%s, %s, %s, %s)
               ON CONFLICT (transaction_id) DO UPDATE SET is_fraud = EXCLUDED.is_fraud, source = EXCLUDED.source,
                   labelled_at = EXCLUDED.labelled_at, labelled_ns = 0
               WHERE (l.labelled_at, l.labelled_ns) <= (EXCLUDED.labelled_at, 0)""",
            (label.transaction_id, label.is_fraud, label.source, label.labelled_at),
        ).rowcount
        report.stored += changed
        report.unchanged += 1 - changed
    report.rejected.sort(key=lambda item: item["line"])
    return report

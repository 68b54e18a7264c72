"""The SIEM's database sources: what the marketplace reports through ingest and what scoring decided.

- `logins`:   marketplace.login_attempts (ingest writes them as they arrive; the intel.* copy follows
              with the hourly ETL, too late for a five-minute rule): failed logins and failed MFA.
- `sessions`: marketplace.sessions: session starts, and geo-velocity anomalies (one account from two
              countries closer in time than Settings.siem_geo_velocity_s).
- `fraud`:    BLOCKED model decisions (intel.fraud_predictions, reason `model`: a blocklist's own
              BLOCKED is not new evidence) and confirmed fraud labels (intel.fraud_labels), each with
              the purchase's wallet, IP and payment instrument (marketplace.orders) for the ring rule.

Each source is read from its cursor (siem.cursors) minus Settings.siem_poll_overlap_s, so a row
committed late is still read; event ids are the rows' own ids, so a row read twice is one event."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from shared.siem.models import SecurityEvent, Severity

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _account(user_id: Any, email: str | None) -> str:
    if user_id is not None:
        return f"user:{user_id}"
    digest = hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:20]
    return f"email:{digest}"


def _login(row: dict[str, Any]) -> SecurityEvent | None:
    if row["success"]:
        return None
    mfa = row["failure_reason"] == "bad_mfa"
    admin = bool(row["is_admin"])
    severity = Severity.HIGH if (mfa and admin) else Severity.LOW
    return SecurityEvent(
        event_id=f"login:{row['attempt_id']}",
        source="marketplace.login_attempts",
        kind="mfa_failed" if mfa else "login_failed",
        severity=severity,
        occurred_at=row["attempted_at"],
        ip=row["ip"],
        account=_account(row["user_id"], row["email"]),
        is_admin=admin,
        details={"failure_reason": row["failure_reason"], "directory": "marketplace"},
    )


def _session(row: dict[str, Any]) -> SecurityEvent | None:
    previous = row["previous_country"]
    jump = previous is not None and row["country"] is not None and previous != row["country"]
    return SecurityEvent(
        event_id=f"session:{row['session_id']}",
        source="marketplace.sessions",
        kind="geo_velocity" if jump else "session_started",
        severity=Severity.MEDIUM if jump else Severity.INFO,
        occurred_at=row["started_at"],
        ip=row["ip"],
        account=f"user:{row['user_id']}",
        details={"country": row["country"], "previous_country": previous} if jump else {},
    )


def _fraud(row: dict[str, Any]) -> SecurityEvent | None:
    label = row["origin"] == "label"
    return SecurityEvent(
        event_id=f"{row['origin']}:{row['transaction_id']}",
        source="intel.fraud_labels" if label else "intel.fraud_predictions",
        kind="fraud_label" if label else "fraud_decision",
        severity=Severity.MEDIUM,
        occurred_at=row["at"],
        ip=row["ip"],
        wallet=row["wallet"],
        details={
            "transaction_id": row["transaction_id"],
            "payment_instrument": row["instrument"],
            "counterparties": [w for w in (row["seller_wallet"],) if w],
        },
    )


_LOGINS = """
    SELECT attempt_id, user_id, email, host(ip) AS ip, success, failure_reason, is_admin, attempted_at,
           updated_at AS position
      FROM marketplace.login_attempts
     WHERE updated_at > %(since)s ORDER BY updated_at LIMIT %(limit)s"""

# A session's country comes from the ETL's geolocation when it has run (intel.sessions), else none;
# the previous session of the same account within the window, for the geo-velocity check.
_SESSIONS = """
    SELECT s.session_id, s.user_id, host(s.ip) AS ip, s.started_at, s.updated_at AS position,
           cur.geo_country AS country,
           (SELECT p.geo_country FROM intel.sessions p
             WHERE p.user_id = s.user_id AND p.session_id <> s.session_id
               AND p.started_at BETWEEN s.started_at - make_interval(secs => %(geo_s)s) AND s.started_at
             ORDER BY p.started_at DESC LIMIT 1) AS previous_country
      FROM marketplace.sessions s
      LEFT JOIN intel.sessions cur ON cur.session_id = s.session_id
     WHERE s.updated_at > %(since)s ORDER BY s.updated_at LIMIT %(limit)s"""

_FRAUD = """
    SELECT * FROM (
      SELECT 'decision' AS origin, p.transaction_id, p.wallet_address AS wallet, p.created_at AS at,
             p.created_at AS position, host(o.client_ip) AS ip, o.payment_instrument AS instrument,
             o.seller_wallet
        FROM intel.fraud_predictions p
        LEFT JOIN marketplace.orders o ON o.transaction_id = p.transaction_id
       WHERE p.created_at > %(since)s AND p.decision = 'BLOCKED' AND p.reason = 'model'
      UNION ALL
      SELECT 'label', l.transaction_id, coalesce(o.buyer_wallet, t.wallet_address), l.labelled_at,
             l.created_at, host(coalesce(o.client_ip, t.client_ip)), coalesce(o.payment_instrument, t.payment_instrument),
             coalesce(o.seller_wallet, t.seller_wallet)
        FROM intel.fraud_labels l
        LEFT JOIN marketplace.orders o ON o.transaction_id = l.transaction_id
        LEFT JOIN intel.transactions t ON t.transaction_id = l.transaction_id
       WHERE l.created_at > %(since)s AND l.is_fraud
    ) r ORDER BY position LIMIT %(limit)s"""


@dataclass(frozen=True)
class Source:
    name: str
    sql: str
    normalize: Callable[[dict[str, Any]], SecurityEvent | None]


SOURCES = (
    Source("logins", _LOGINS, _login),
    Source("sessions", _SESSIONS, _session),
    Source("fraud", _FRAUD, _fraud),
)


@dataclass
class Polled:
    source: str
    rows: int
    events: list[SecurityEvent]
    position: datetime | None


def poll(
    conn: psycopg.Connection[Any], source: Source, *, overlap_s: int, geo_velocity_s: int, limit: int = 20_000
) -> Polled:
    """Read one source from its cursor (minus the overlap); the caller saves the position after it has
    stored and correlated the events (`save_cursor`), so a crash in between reads them again."""
    row = conn.execute("SELECT position FROM siem.cursors WHERE source = %s", (source.name,)).fetchone()
    since = (row[0] - timedelta(seconds=overlap_s)) if row else EPOCH
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(source.sql, {"since": since, "limit": limit, "geo_s": geo_velocity_s})
        .fetchall()
    )
    events = [event for r in rows if (event := source.normalize(r)) is not None]
    position = max((r["position"] for r in rows), default=None)
    if row and position is not None:
        position = max(position, row[0])
    return Polled(source.name, len(rows), events, position)


def save_cursor(conn: psycopg.Connection[Any], polled: Polled) -> None:
    if polled.position is None:
        return
    conn.execute(
        """INSERT INTO siem.cursors (source, position) VALUES (%s, %s)
           ON CONFLICT (source) DO UPDATE SET position = greatest(siem.cursors.position, EXCLUDED.position),
                                              updated_at = now()""",
        (polled.source, polled.position),
    )

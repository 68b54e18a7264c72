"""Section 6 of the monitoring page (spec 4.1): security events, newest first, filtered by severity
(the SIEM's scale, shared.siem.models.Severity: INFO, LOW, MEDIUM, HIGH, CRITICAL).

Where the events come from, in one event shape {at, severity, kind, subject, detail, source}:
- the SIEM, when it has recorded events in the window: its normalized events (siem.security_events)
  and its correlation findings (siem.findings, kind `finding:<rule>`);
- otherwise (a deployment whose SIEM has not run yet, or `make run` before it polls), what the system
  records itself: failed logins of the marketplace (intel.login_attempts: an administrator's HIGH, a
  buyer's LOW), fraud blocks (intel.fraud_predictions, BLOCKED: MEDIUM), blocklist entries added
  (intel.blocklist: MEDIUM) and rate-limit refusals per IP and minute (shared.ratelimit.traffic: LOW,
  MEDIUM from RATE_LIMIT_MEDIUM refusals in a minute).
`mode` says which ("siem" or "derived"); each source reads at most MAX_EVENTS of the window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import redis

from shared.errors import ValidationFailed
from shared.ratelimit.traffic import read_refusals
from shared.siem.models import Severity

SEVERITIES: tuple[str, ...] = tuple(severity.value for severity in Severity)
WINDOW = timedelta(hours=24)
MAX_EVENTS = 50
RATE_LIMIT_MEDIUM = 20

Event = dict[str, Any]
Params = dict[str, Any]

_SIEM_ANY_SQL = "SELECT EXISTS (SELECT 1 FROM siem.security_events WHERE occurred_at > %(start)s AND occurred_at <= %(end)s)"

_SIEM_EVENTS_SQL = """
SELECT occurred_at, severity, kind, coalesce(ip, account, wallet), details::text, source
  FROM siem.security_events
 WHERE occurred_at > %(start)s AND occurred_at <= %(end)s AND severity = ANY(%(severities)s)
 ORDER BY occurred_at DESC LIMIT %(limit)s
"""

_SIEM_FINDINGS_SQL = """
SELECT last_seen, severity, 'finding:' || rule, subject,
       event_count || ' events since ' || to_char(first_seen AT TIME ZONE 'UTC', 'HH24:MI') || ' UTC (' || status || ')',
       'siem'
  FROM siem.findings
 WHERE last_seen > %(start)s AND last_seen <= %(end)s AND severity = ANY(%(severities)s)
 ORDER BY last_seen DESC LIMIT %(limit)s
"""

_LOGIN_SQL = """
SELECT attempted_at, CASE WHEN is_admin THEN 'HIGH' ELSE 'LOW' END,
       CASE WHEN is_admin THEN 'admin_login_failed' ELSE 'login_failed' END,
       host(ip), coalesce(failure_reason, 'failed') || coalesce(' from ' || geo_country, ''), 'logins'
  FROM intel.login_attempts
 WHERE NOT success AND attempted_at > %(start)s AND attempted_at <= %(end)s
   AND (CASE WHEN is_admin THEN 'HIGH' ELSE 'LOW' END) = ANY(%(severities)s)
 ORDER BY attempted_at DESC LIMIT %(limit)s
"""

_BLOCK_SQL = """
SELECT created_at, 'MEDIUM', 'fraud_blocked', wallet_address,
       'score ' || coalesce(round(fraud_score::numeric, 3)::text, '-') || ' (' || reason || ')', 'scoring'
  FROM intel.fraud_predictions
 WHERE decision = 'BLOCKED' AND created_at > %(start)s AND created_at <= %(end)s
   AND 'MEDIUM' = ANY(%(severities)s)
 ORDER BY created_at DESC LIMIT %(limit)s
"""

_BLOCKLIST_SQL = """
SELECT created_at, 'MEDIUM', kind || '_blocklisted', value, reason || ' (' || source || ')', 'blocklist'
  FROM intel.blocklist
 WHERE created_at > %(start)s AND created_at <= %(end)s AND 'MEDIUM' = ANY(%(severities)s)
 ORDER BY created_at DESC LIMIT %(limit)s
"""


def parse_severities(value: str | None) -> tuple[str, ...]:
    """`severity=high,critical` (any case) -> those; absent or empty -> all. An unknown name is a 400."""
    if value is None or not value.strip():
        return SEVERITIES
    given = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [name for name in given if name.upper() not in SEVERITIES]
    if unknown:
        raise ValidationFailed(
            f"unknown severity {', '.join(unknown)}; use {', '.join(SEVERITIES)}", field="severity"
        )
    return tuple(dict.fromkeys(name.upper() for name in given))


def _rows(conn: psycopg.Connection, sql: str, params: Params) -> list[Event]:
    return [
        {
            "at": at.isoformat(),
            "severity": sev,
            "kind": kind,
            "subject": subject,
            "detail": detail,
            "source": source,
        }
        for at, sev, kind, subject, detail, source in conn.execute(sql, params).fetchall()
    ]


def _rate_limit_events(client: redis.Redis | None, params: Params) -> list[Event]:
    if client is None:
        return []
    events = []
    for minute, subject, refused in read_refusals(client, now_s=params["end"].timestamp(), minutes=60):
        severity = "MEDIUM" if refused >= RATE_LIMIT_MEDIUM else "LOW"
        if severity in params["severities"]:
            at = datetime.fromtimestamp(minute * 60, UTC).isoformat()
            detail = f"{refused} refused request{'s' if refused != 1 else ''} in the minute"
            events.append({"at": at, "severity": severity, "kind": "rate_limited", "subject": subject,
                           "detail": detail, "source": "ratelimit"})  # fmt: skip
    return events


Source = Callable[[psycopg.Connection, redis.Redis | None, Params], list[Event]]

SIEM_SOURCES: dict[str, Source] = {
    "siem events": lambda conn, _, params: _rows(conn, _SIEM_EVENTS_SQL, params),
    "siem findings": lambda conn, _, params: _rows(conn, _SIEM_FINDINGS_SQL, params),
}
DERIVED_SOURCES: dict[str, Source] = {
    "logins": lambda conn, _, params: _rows(conn, _LOGIN_SQL, params),
    "scoring": lambda conn, _, params: _rows(conn, _BLOCK_SQL, params),
    "blocklist": lambda conn, _, params: _rows(conn, _BLOCKLIST_SQL, params),
    "ratelimit": lambda _, client, params: _rate_limit_events(client, params),
}


def security_section(
    conn: psycopg.Connection, client: redis.Redis | None, end: datetime, severities: tuple[str, ...]
) -> dict[str, Any]:
    params = {"start": end - WINDOW, "end": end, "severities": list(severities), "limit": MAX_EVENTS}
    row = conn.execute(_SIEM_ANY_SQL, params).fetchone()
    mode, sources = ("siem", SIEM_SOURCES) if row and row[0] else ("derived", DERIVED_SOURCES)
    events: list[Event] = []
    for source in sources.values():
        events += source(conn, client, params)
    events.sort(key=lambda event: event["at"], reverse=True)
    counts = dict.fromkeys(SEVERITIES, 0)
    for event in events:
        counts[event["severity"]] = counts.get(event["severity"], 0) + 1
    return {
        "window_hours": int(WINDOW.total_seconds() // 3600),
        "severities": list(SEVERITIES),
        "selected": list(severities),
        "mode": mode,
        "sources": list(sources),
        "counts": counts,
        "events": events[:MAX_EVENTS],
    }

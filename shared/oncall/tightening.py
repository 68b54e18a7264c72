"""The REQUIRE_2FA threshold, tightened for a fixed time when the fraud rate spikes (spec 4.2: "automatic
threshold adjustment"), reverting by itself, recorded, and overridable by an admin.

- `tighten`: the fraud-rate-spike alarm's action. Lowers the two-factor threshold by `STEP` from the
  configured value, never below `FLOOR`, for `Settings.oncall_tighten_seconds`; one row in
  oncall.threshold_adjustments records it. Idempotent: while an adjustment is in force it changes nothing
  (a repeated alarm notification does not tighten twice, nor extend the time).
- `set_by_admin` / `end_by_admin`: an admin sets a value within the bounds for a time, or ends the
  adjustment in force now (the admin API calls these; an admin's adjustment wins over an alarm's).
- `AdjustedThresholds`: what scoring decides with: the configured thresholds with the adjustment in force,
  re-read from PostgreSQL at most every REFRESH; an adjustment that expired counts as gone at once,
  without a re-read; when PostgreSQL does not answer, the configured thresholds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.config import Thresholds, get_settings, get_thresholds
from shared.errors import ValidationFailed
from shared.observability import logger

STEP = 0.10  # how much a spike lowers the two-factor threshold
FLOOR = 0.25  # never below: below it, 2FA would ask most honest buyers
REFRESH = timedelta(seconds=15)
MAX_ADMIN_DURATION = timedelta(days=1)

_LIVE_SQL = """
SELECT adjustment_id, value, base_value, source, actor, reason, started_at, expires_at
  FROM oncall.threshold_adjustments
 WHERE threshold = 'two_factor' AND ended_at IS NULL AND started_at <= %(at)s AND expires_at > %(at)s
 ORDER BY (source = 'admin') DESC, started_at DESC
 LIMIT 1
"""
_INSERT_SQL = """
INSERT INTO oncall.threshold_adjustments
       (threshold, value, base_value, source, actor, reason, started_at, expires_at)
VALUES ('two_factor', %(value)s, %(base)s, %(source)s, %(actor)s, %(reason)s, %(at)s, %(until)s)
RETURNING adjustment_id, value, base_value, source, actor, reason, started_at, expires_at
"""
_END_SQL = """
UPDATE oncall.threshold_adjustments SET ended_at = %(at)s, ended_by = %(actor)s
 WHERE threshold = 'two_factor' AND ended_at IS NULL AND started_at <= %(at)s AND expires_at > %(at)s
RETURNING adjustment_id
"""


@dataclass(frozen=True)
class Adjustment:
    adjustment_id: int
    value: float
    base_value: float
    source: str
    actor: str
    reason: str
    started_at: datetime
    expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "adjustment_id": self.adjustment_id,
            "threshold": "two_factor",
            "value": self.value,
            "base_value": self.base_value,
            "source": self.source,
            "actor": self.actor,
            "reason": self.reason,
            "started_at": self.started_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


def tightened_value(base: float) -> float:
    """The spike's value: `STEP` below the configured one, not below FLOOR, never above the configured one."""
    return round(min(base, max(FLOOR, base - STEP)), 6)


def in_force(conn: Any, at: datetime) -> Adjustment | None:
    row = conn.execute(_LIVE_SQL, {"at": at}).fetchone()
    return Adjustment(*row) if row else None


def tighten(conn: Any, at: datetime, *, alarm: str, thresholds: Thresholds | None = None) -> Adjustment:
    """The fraud-rate spike's adjustment (see the module's docstring); the one in force if any."""
    current = in_force(conn, at)
    if current is not None:
        return current
    base = (thresholds or get_thresholds()).two_factor
    seconds = get_settings().oncall_tighten_seconds
    return _insert(
        conn,
        at,
        value=tightened_value(base),
        base=base,
        source="alarm",
        actor=alarm,
        reason=f"alarm {alarm}: fraud rate spike",
        until=at + timedelta(seconds=seconds),
    )


def set_by_admin(
    conn: Any,
    at: datetime,
    *,
    actor: str,
    value: float,
    duration: timedelta,
    reason: str,
    thresholds: Thresholds | None = None,
) -> Adjustment:
    """An admin's value for the two-factor threshold, in [FLOOR, the review threshold), for at most
    MAX_ADMIN_DURATION; it ends any adjustment in force (recorded as ended by `actor`)."""
    configured = thresholds or get_thresholds()
    if not FLOOR <= value < configured.review:
        raise ValidationFailed(
            f"two_factor must be in [{FLOOR}, {configured.review}) (below the review threshold), got {value}"
        )
    if not timedelta(0) < duration <= MAX_ADMIN_DURATION:
        raise ValidationFailed(f"duration must be more than 0 and at most {MAX_ADMIN_DURATION}")
    if not reason.strip():
        raise ValidationFailed("a reason is required")
    conn.execute(_END_SQL, {"at": at, "actor": actor})
    return _insert(
        conn,
        at,
        value=round(value, 6),
        base=configured.two_factor,
        source="admin",
        actor=actor,
        reason=reason.strip(),
        until=at + duration,
    )


def end_by_admin(conn: Any, at: datetime, *, actor: str) -> int:
    """Ends the adjustment in force now (the configured threshold applies again); how many ended."""
    return len(conn.execute(_END_SQL, {"at": at, "actor": actor}).fetchall())


def _insert(
    conn: Any,
    at: datetime,
    *,
    value: float,
    base: float,
    source: str,
    actor: str,
    reason: str,
    until: datetime,
) -> Adjustment:
    row = conn.execute(
        _INSERT_SQL,
        {
            "value": value,
            "base": base,
            "source": source,
            "actor": actor,
            "reason": reason,
            "at": at,
            "until": until,
        },
    ).fetchone()
    adjustment = Adjustment(*row)
    logger.warning("two-factor threshold adjusted", extra={"adjustment": adjustment.as_dict()})
    return adjustment


def adjusted(thresholds: Thresholds, adjustment: Adjustment | None, at: datetime) -> Thresholds:
    if adjustment is None or not adjustment.started_at <= at < adjustment.expires_at:
        return thresholds
    if not adjustment.value < thresholds.review:
        return thresholds
    return thresholds.model_copy(update={"two_factor": adjustment.value})


class AdjustedThresholds:
    """Scoring's thresholds with the adjustment in force, per process (see the module's docstring)."""

    def __init__(self, pool: Callable[[], Any], base: Callable[[], Thresholds] = get_thresholds) -> None:
        self._pool = pool
        self._base = base
        self._read_at: datetime | None = None
        self._adjustment: Adjustment | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Thresholds:
        """The thresholds in force now (ScoringDeps.thresholds)."""
        return self.at(datetime.now(UTC))

    def at(self, now: datetime) -> Thresholds:
        with self._lock:
            if self._read_at is None or not timedelta(0) <= now - self._read_at < REFRESH:
                self._adjustment = self._read(now)
                self._read_at = now
            adjustment = self._adjustment
        return adjusted(self._base(), adjustment, now)

    def _read(self, now: datetime) -> Adjustment | None:
        try:
            with self._pool().connection() as conn:
                return in_force(conn, now)
        except Exception as exc:  # the configured thresholds then: never a failed decision for this
            logger.warning(
                "threshold adjustments unreadable; configured thresholds apply", extra={"error": str(exc)}
            )
            return None

"""When the batch features are snapshotted, and which snapshot a purchase at time t is scored with.

A batch feature is a snapshot as of a cadence boundary B (a UTC hour or a UTC day) of the data
strictly before B. The job that takes it runs at B + publish_delay: the schedule leaves the ETL
time to load everything up to B first (the crons of infra/jobs.py fire at these delays; a test
in tests/infra holds them equal). Until that job has run, scoring still reads the previous snapshot.

So a purchase at t is scored with the snapshot of the latest boundary B such that
B + publish_delay <= t, and the training-set builder gives its row exactly that snapshot: the
model learns the features as the scoring path serves them, not fresher ones it never sees.

| cadence | features (../shared/spec/features.md)                                   | runs at |
|---------|-------------------------------------------------------------------------|---------|
| hourly  | avg_ticket_hold_time, event_popularity_score, the 7-day price reference | HH:20   |
|         | of price_deviation_ratio, the wallet's first Transfer on chain          |         |
| daily   | cross_event_attendance, payment_method_diversity, wallet_centrality     | 02:20   |

The rest are real-time, exact at t: txn_velocity_1h, the previous location and the wallet's first
purchase (Redis, fed by every scored purchase), resale_time and the price paid (from the request).
wallet_age_days counts from the earlier of the wallet's first Transfer (hourly) and its first
purchase (real-time): a wallet that bought an hour ago is not "never seen". Measured on the
model's simulated test week (one plain XGBoost fit each): first Transfer only, as of the daily
snapshot, AUC-PR 0.18; this definition 0.64; every feature exact at t (not servable) 0.67. A
wallet's earlier purchases the same day are much of the fraud signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

CadenceName = Literal["hourly", "daily"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Cadence:
    name: CadenceName
    period: timedelta
    publish_delay: timedelta  # the job for boundary B runs at B + publish_delay

    def snapshot_at(self, at: datetime) -> datetime:
        """The boundary of the snapshot in force at `at`: the latest B with B + delay <= at."""
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        since_epoch = at.astimezone(UTC) - self.publish_delay - EPOCH
        return EPOCH + (since_epoch // self.period) * self.period


# The daily run replaces the hourly one of its hour (02:20), so both share the minute.
HOURLY = Cadence("hourly", timedelta(hours=1), timedelta(minutes=20))
DAILY = Cadence("daily", timedelta(days=1), timedelta(hours=2, minutes=20))
CADENCES: dict[CadenceName, Cadence] = {"hourly": HOURLY, "daily": DAILY}


def snapshot_day(at: datetime) -> date:
    """The UTC day a daily snapshot instant names (the key of the centrality snapshots)."""
    return at.astimezone(UTC).date()

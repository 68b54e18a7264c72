"""The five KPIs of features.md for a time window [start, end), with the counts they stand on.

- fraud_detection_rate: of the window's transactions labelled fraud that have a scoring decision,
  the share whose decision was not APPROVED.
- false_positive_rate: the same over transactions labelled legitimate.
  (Labelled transactions without a decision are counted in `labelled_without_decision`.)
- ticket_resale_velocity_hours: median hours from mint to first resale, over the tickets whose
  first resale (ever) falls in the window.
- user_engagement_score: over users with a purchase in the window, as of `end`: mean of recency
  (1 - days since last purchase / 30, floored at 0), frequency (purchases in the 30 days before
  `end` / 10, capped at 1) and breadth (distinct events in the 90 days before `end` / 5, capped at 1).
- revenue_per_hour: fees of completed transactions in the window / hours in the window; refunded,
  charged-back and failed orders collected no fee. `hourly_fees` gives each clock hour.
A rate with an empty denominator is None, never 0.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from pydantic import BaseModel, ConfigDict

from shared.errors import ValidationFailed


class KpiCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    transactions: int
    labelled_fraud: int
    fraud_not_approved: int
    labelled_legit: int
    legit_not_approved: int
    labelled_without_decision: int
    first_resales: int
    active_users: int
    total_fees: float
    hours: float


class HourlyFees(BaseModel):
    model_config = ConfigDict(frozen=True)

    hour: datetime
    fees: float


class KpiReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    fraud_detection_rate: float | None
    false_positive_rate: float | None
    ticket_resale_velocity_hours: float | None
    user_engagement_score: float | None
    revenue_per_hour: float
    counts: KpiCounts
    hourly_fees: list[HourlyFees]


_LABEL_SQL = """
SELECT count(*) FILTER (WHERE l.is_fraud AND p.decision IS NOT NULL),
       count(*) FILTER (WHERE l.is_fraud AND p.decision <> 'APPROVED'),
       count(*) FILTER (WHERE NOT l.is_fraud AND p.decision IS NOT NULL),
       count(*) FILTER (WHERE NOT l.is_fraud AND p.decision <> 'APPROVED'),
       count(*) FILTER (WHERE p.decision IS NULL)
FROM intel.transactions t
JOIN intel.fraud_labels l ON l.transaction_id = t.transaction_id
LEFT JOIN intel.fraud_predictions p ON p.transaction_id = t.transaction_id
WHERE t.occurred_at >= %(start)s AND t.occurred_at < %(end)s
"""

_RESALE_SQL = """
WITH first_resale AS (
    SELECT ticket_id, min(occurred_at) AS at FROM intel.transactions WHERE kind = 'resale' GROUP BY ticket_id
)
SELECT count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.at - tk.minted_at) / 3600.0)
FROM first_resale f JOIN intel.tickets tk ON tk.ticket_id = f.ticket_id
WHERE f.at >= %(start)s AND f.at < %(end)s
"""

_ENGAGEMENT_SQL = """
WITH active AS (
    SELECT DISTINCT user_id FROM intel.transactions WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
), per_user AS (
    SELECT a.user_id,
           greatest(0.0, 1.0 - extract(epoch FROM %(end)s - max(t.occurred_at)) / 86400.0 / 30.0) AS recency,
           least(1.0, count(*) FILTER (WHERE t.occurred_at >= %(end)s - interval '720 hours') / 10.0) AS frequency,
           least(1.0, count(DISTINCT t.event_id)
                      FILTER (WHERE t.occurred_at >= %(end)s - interval '2160 hours') / 5.0) AS breadth
    FROM active a JOIN intel.transactions t ON t.user_id = a.user_id AND t.occurred_at < %(end)s
    GROUP BY a.user_id
)
SELECT count(*), avg((recency + frequency + breadth) / 3.0)::float8 FROM per_user
"""

_FEES_SQL = """
SELECT date_trunc('hour', occurred_at) AS hour, sum(fee)::float8
FROM intel.transactions
WHERE occurred_at >= %(start)s AND occurred_at < %(end)s AND status = 'completed'
GROUP BY 1 ORDER BY 1
"""


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def compute_kpis(conn: psycopg.Connection, start: datetime, end: datetime) -> KpiReport:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("start and end must be timezone-aware", field="start")
    if end <= start:
        raise ValidationFailed("end must be after start", field="end")
    params = {"start": start, "end": end}
    (transactions,) = conn.execute(
        "SELECT count(*) FROM intel.transactions WHERE occurred_at >= %(start)s AND occurred_at < %(end)s",
        params,
    ).fetchone() or (0,)
    fraud, fraud_caught, legit, legit_flagged, undecided = (
        conn.execute(_LABEL_SQL, params).fetchone() or (0,) * 5
    )
    first_resales, resale_median = conn.execute(_RESALE_SQL, params).fetchone() or (0, None)
    active_users, engagement = conn.execute(_ENGAGEMENT_SQL, params).fetchone() or (0, None)
    hourly = [HourlyFees(hour=h, fees=f) for h, f in conn.execute(_FEES_SQL, params).fetchall()]
    hours = (end - start).total_seconds() / 3600.0
    total_fees = sum(h.fees for h in hourly)
    return KpiReport(
        start=start,
        end=end,
        fraud_detection_rate=_rate(fraud_caught, fraud),
        false_positive_rate=_rate(legit_flagged, legit),
        ticket_resale_velocity_hours=None if resale_median is None else float(resale_median),
        user_engagement_score=None if engagement is None else float(engagement),
        # A window shorter than a microsecond (the instants are read to the nanosecond) holds no row
        revenue_per_hour=total_fees / hours if hours else 0.0,
        counts=KpiCounts(
            transactions=transactions,
            labelled_fraud=fraud,
            fraud_not_approved=fraud_caught,
            labelled_legit=legit,
            legit_not_approved=legit_flagged,
            labelled_without_decision=undecided,
            first_resales=first_resales,
            active_users=active_users,
            total_fees=total_fees,
            hours=hours,
        ),
        hourly_fees=hourly,
    )


class ConfusionCounts(BaseModel):
    """Scoring decisions against labels, for the monitoring dashboard: "caught" = BLOCKED or
    MANUAL_REVIEW (the decisions that stop a purchase), "passed" = APPROVED or REQUIRE_2FA."""

    model_config = ConfigDict(frozen=True)

    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int


def confusion_counts(conn: psycopg.Connection, start: datetime, end: datetime) -> ConfusionCounts:
    """Over predictions made in [start, end) whose transaction has a label."""
    row = conn.execute(
        """SELECT count(*) FILTER (WHERE l.is_fraud AND p.decision IN ('BLOCKED', 'MANUAL_REVIEW')),
                  count(*) FILTER (WHERE NOT l.is_fraud AND p.decision IN ('BLOCKED', 'MANUAL_REVIEW')),
                  count(*) FILTER (WHERE NOT l.is_fraud AND p.decision IN ('APPROVED', 'REQUIRE_2FA')),
                  count(*) FILTER (WHERE l.is_fraud AND p.decision IN ('APPROVED', 'REQUIRE_2FA'))
           FROM intel.fraud_predictions p JOIN intel.fraud_labels l ON l.transaction_id = p.transaction_id
           WHERE p.created_at >= %s AND p.created_at < %s""",
        (start, end),
    ).fetchone() or (0, 0, 0, 0)
    return ConfusionCounts(
        true_positive=row[0], false_positive=row[1], true_negative=row[2], false_negative=row[3]
    )

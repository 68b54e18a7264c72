"""Model quality from labels, per model version (issue 17, spec 4.1 section 4).

What is counted, over the model decisions made in a window (a blocklist or fail-open decision is not
the model's; a candidate in shadow counts with its would-be decisions, intel.model_shadow_scores):
- fraud: the transaction's label says fraud (intel.fraud_labels, as known at `known_at`); legitimate:
  labelled legitimate or not labelled, as the training set counts it (shared/features/training.py);
- the confusion matrix's positive is a decision that stops the purchase (BLOCKED, MANUAL_REVIEW), as
  the dashboard's matrix (shared.kpis.kpis.confusion_counts) and the spec's matrix at 0.65:
  precision = TP / (TP + FP), recall = TP / (TP + FN);
- detection rate and false-positive rate as the KPIs count them (any decision but APPROVED):
  detected frauds / frauds, flagged legitimate / legitimate.

Label delay. Labels arrive after the purchase: bans and reviews within 3 days, customer reports within
6, investigations within 14, chargebacks within 30 (the simulator's scenarios and the card networks'
windows). A window counts as settled `QUALITY_LABEL_DELAY` (14 days) after its end: every source but
chargebacks has answered by then, and the figures are published 16 days sooner than with the 30 days
of full settling (LABEL_SETTLING, what training waits for). The late chargebacks make fraud look
legitimate to both sides of every comparison alike: a version is compared with its own baseline,
measured at the same delay, and a candidate with the served model on the same transactions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from pydantic import BaseModel, ConfigDict, computed_field

QUALITY_LABEL_DELAY = timedelta(days=14)
QUALITY_WINDOW = timedelta(hours=24)

_FLAGGED = "('BLOCKED', 'MANUAL_REVIEW')"
_COUNTS = f"""count(*),
       count(*) FILTER (WHERE l.is_fraud AND s.decision IN {_FLAGGED}),
       count(*) FILTER (WHERE l.is_fraud IS NOT TRUE AND s.decision IN {_FLAGGED}),
       count(*) FILTER (WHERE l.is_fraud IS NOT TRUE AND s.decision NOT IN {_FLAGGED}),
       count(*) FILTER (WHERE l.is_fraud AND s.decision NOT IN {_FLAGGED}),
       count(*) FILTER (WHERE l.is_fraud),
       count(*) FILTER (WHERE l.is_fraud AND s.decision <> 'APPROVED'),
       count(*) FILTER (WHERE l.is_fraud IS NOT TRUE),
       count(*) FILTER (WHERE l.is_fraud IS NOT TRUE AND s.decision <> 'APPROVED')"""
_LABELS = (
    "LEFT JOIN intel.fraud_labels l ON l.transaction_id = s.transaction_id AND l.labelled_at < %(known_at)s"
)

_BY_VERSION_SQL = f"""
WITH s AS (
    SELECT p.model_version, 'served' AS role, p.transaction_id, p.decision
      FROM intel.fraud_predictions p
     WHERE p.reason = 'model' AND p.created_at >= %(start)s AND p.created_at < %(end)s
    UNION ALL
    SELECT h.model_version, 'shadow', h.transaction_id, h.decision
      FROM intel.model_shadow_scores h
     WHERE h.created_at >= %(start)s AND h.created_at < %(end)s
)
SELECT s.model_version, s.role, {_COUNTS}
FROM s {_LABELS}
GROUP BY 1, 2 ORDER BY 1, 2
"""

# A candidate against the served model since the candidate started: in shadow, on the same
# transactions; as a canary, on the disjoint shares of traffic each decided.
_COMPARISON_SQL = f"""
WITH s AS (
    SELECT 'candidate' AS side, h.transaction_id, h.decision
      FROM intel.model_shadow_scores h
     WHERE h.model_version = %(candidate)s AND h.created_at >= %(since)s AND h.created_at < %(end)s
    UNION ALL
    SELECT 'served', p.transaction_id, p.decision
      FROM intel.model_shadow_scores h
      JOIN intel.fraud_predictions p ON p.transaction_id = h.transaction_id AND p.reason = 'model'
     WHERE h.model_version = %(candidate)s AND h.created_at >= %(since)s AND h.created_at < %(end)s
    UNION ALL
    SELECT CASE WHEN p.model_version = %(candidate)s THEN 'candidate' ELSE 'served' END,
           p.transaction_id, p.decision
      FROM intel.fraud_predictions p
     WHERE p.reason = 'model' AND p.created_at >= %(since)s AND p.created_at < %(end)s
       AND (p.model_version = %(candidate)s OR %(canary)s AND p.model_version = %(served)s)
)
SELECT s.side, {_COUNTS}
FROM s {_LABELS}
GROUP BY 1
"""


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


class QualityCounts(BaseModel):
    """One version's decisions against the labels; a rate with an empty denominator is None."""

    model_config = ConfigDict(frozen=True)

    scored: int = 0
    true_positive: int = 0
    false_positive: int = 0
    true_negative: int = 0
    false_negative: int = 0
    frauds: int = 0
    frauds_detected: int = 0
    legit: int = 0
    legit_flagged: int = 0

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> QualityCounts:
        names = list(cls.model_fields)
        return cls(**{name: int(value) for name, value in zip(names, row, strict=True)})

    @computed_field  # type: ignore[prop-decorator]
    @property
    def precision(self) -> float | None:
        return _ratio(self.true_positive, self.true_positive + self.false_positive)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def recall(self) -> float | None:
        return _ratio(self.true_positive, self.true_positive + self.false_negative)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def detection_rate(self) -> float | None:
        return _ratio(self.frauds_detected, self.frauds)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def false_positive_rate(self) -> float | None:
        return _ratio(self.legit_flagged, self.legit)


class VersionQuality(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_version: str
    role: str  # served: it decided; shadow: scored beside the served model, deciding nothing
    counts: QualityCounts


def settled_window(now: datetime, delay: timedelta = QUALITY_LABEL_DELAY) -> tuple[datetime, datetime]:
    """The latest whole-hour 24-hour window whose end is `delay` old."""
    end = (now - delay).replace(minute=0, second=0, microsecond=0)
    return end - QUALITY_WINDOW, end


def quality_by_version(
    conn: psycopg.Connection, start: datetime, end: datetime, *, known_at: datetime
) -> list[VersionQuality]:
    """Each version's quality over the decisions of [start, end), with the labels known at `known_at`."""
    rows = conn.execute(_BY_VERSION_SQL, {"start": start, "end": end, "known_at": known_at}).fetchall()
    return [
        VersionQuality(model_version=str(row[0]), role=str(row[1]), counts=QualityCounts.from_row(row[2:]))
        for row in rows
    ]


def candidate_comparison(
    conn: psycopg.Connection,
    *,
    candidate: str,
    served: str | None,
    canary: bool,
    since: datetime,
    end: datetime,
    known_at: datetime,
) -> dict[str, QualityCounts]:
    """{"candidate": ..., "served": ...} since the candidate started (see _COMPARISON_SQL)."""
    params = {
        "candidate": candidate,
        "served": served or "",
        "canary": canary,
        "since": since,
        "end": end,
        "known_at": known_at,
    }
    found = {str(row[0]): QualityCounts.from_row(row[1:]) for row in conn.execute(_COMPARISON_SQL, params)}
    return {side: found.get(side, QualityCounts()) for side in ("candidate", "served")}


def store_quality(
    conn: psycopg.Connection, start: datetime, end: datetime, rows: list[VersionQuality]
) -> None:
    """Upsert the window's rows of intel.model_quality (a rerun of a window replaces its figures)."""
    fields = list(QualityCounts.model_fields)
    columns = ", ".join(fields)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in fields)
    placeholders = ", ".join(["%s"] * (len(fields) + 4))
    with conn.cursor() as cursor:
        cursor.executemany(
            f"""INSERT INTO intel.model_quality (model_version, role, window_start, window_end, {columns})
                VALUES ({placeholders})
                ON CONFLICT (model_version, role, window_end) DO UPDATE SET {updates}, computed_at = now()""",
            [
                (row.model_version, row.role, start, end, *(getattr(row.counts, name) for name in fields))
                for row in rows
            ],
        )


def baseline_detection(
    conn: psycopg.Connection, version: str, *, windows: int, min_frauds: int
) -> float | None:
    """The version's detection rate over its first `windows` settled windows as the served model
    (its baseline, at the same label delay as every later window); None until they hold `min_frauds`."""
    row = conn.execute(
        """SELECT sum(frauds), sum(frauds_detected) FROM (
               SELECT frauds, frauds_detected FROM intel.model_quality
                WHERE model_version = %s AND role = 'served' ORDER BY window_end LIMIT %s) first""",
        (version, windows),
    ).fetchone()
    frauds, detected = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
    if frauds < max(1, min_frauds):
        return None
    return detected / frauds

"""Cold start as a designed behaviour (issue 23): while the marketplace's history is short, the share of
purchases sent to REQUIRE_2FA or stricter is held within the false-positive budget, measured on the
live score distribution.

Why: the model learned what honest buyers look like on a marketplace with history (accounts with
sessions, wallets with holdings, events with sales). A new deployment (or a marketplace the service
has seen only days of) has less of it, and a model that meets more unknowns than it learned on can
flag far more honest buyers than its report says, with nothing to tell the operator but complaints.
The budget is known in advance: the version's policy calibration puts REQUIRE_2FA where 1.8% of
legitimate purchases are flagged, and about 1.2% of purchases are fraud, so a healthy model flags
about 3% of purchases. Flagging much more than that is a model out of its depth, not a fraud wave
(a fraud wave shows in the labels, and the guard ends with the history anyway).

What: while the history (the first order the marketplace reported, marketplace.orders) is shorter
than `COLD_START_DAYS`, and the last 24 h hold at least `MIN_SCORES` model decisions of which more
than `FLAG_SHARE_BUDGET` reached REQUIRE_2FA, the guard recalibrates the score: a monotone
piecewise-linear map that moves the live (1 - budget) quantile of those scores onto the REQUIRE_2FA
threshold, squeezes [0, quantile] onto [0, threshold] and [quantile, review] onto [threshold, review];
scores above the review threshold are unchanged (MANUAL_REVIEW and BLOCKED keep their meaning). The
decision still follows from the score the client sees. The guard's state is re-read at most every
`REFRESH` of the request's clock (one aggregate query on the stored decisions), so the hot path pays
nothing between refreshes.

What it is not: it never raises a score, never touches the review and block bands, and is off once
the history is long enough (or too few decisions exist to know the distribution: then the model
decides alone, as before).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.config import Thresholds

COLD_START_DAYS = 28.0  # below this much history the guard may act
FLAG_SHARE_BUDGET = 0.03  # REQUIRE_2FA or stricter, of all purchases: 1.8% FPR + ~1.2% fraud
MIN_SCORES = 200  # fewer decisions in the last 24 h: the distribution is not known yet
SCORE_WINDOW = timedelta(hours=24)
REFRESH = timedelta(minutes=10)

GUARD_SQL = """
SELECT (SELECT min(created_at) FROM marketplace.orders),
       count(*),
       coalesce(avg((coalesce(model_score, fraud_score) >= %(two_factor)s)::int), 0),
       percentile_cont(%(quantile)s) WITHIN GROUP (ORDER BY coalesce(model_score, fraud_score))
  FROM intel.fraud_predictions
 WHERE reason = 'model' AND fraud_score IS NOT NULL
   AND created_at >= %(at)s - %(window)s AND created_at < %(at)s
"""


@dataclass(frozen=True)
class GuardState:
    """What the guard read at `read_at`; `cut` is the live quantile the map moves (None: guard off)."""

    read_at: datetime
    history_days: float | None
    scores: int
    flagged_share: float
    cut: float | None


def guard_cut(
    history_days: float | None,
    scores: int,
    flagged_share: float,
    quantile: float | None,
    thresholds: Thresholds,
) -> float | None:
    """The score the guard moves onto the REQUIRE_2FA threshold, or None when it stays off."""
    if history_days is None or history_days >= COLD_START_DAYS or scores < MIN_SCORES or quantile is None:
        return None
    if flagged_share <= FLAG_SHARE_BUDGET or quantile <= thresholds.two_factor:
        return None
    return min(float(quantile), thresholds.review)


def guarded_score(score: float, cut: float | None, thresholds: Thresholds) -> float:
    """The score through the guard's map (identity when the guard is off)."""
    if cut is None or cut <= thresholds.two_factor or score > thresholds.review:
        return score
    two_factor, review = thresholds.two_factor, thresholds.review
    if score <= cut:
        return round(score * two_factor / cut, 6)
    if cut >= review:
        return review
    return round(two_factor + (score - cut) * (review - two_factor) / (review - cut), 6)


class ColdStartGuard:
    """The guard's state for one process, re-read from PostgreSQL at most every REFRESH."""

    def __init__(self) -> None:
        self._state: GuardState | None = None
        self._lock = threading.Lock()

    def state(self, pool: Any, at: datetime, thresholds: Thresholds) -> GuardState:
        state = self._state
        if state is not None and timedelta(0) <= at - state.read_at < REFRESH:
            return state
        with self._lock:
            state = self._state
            if state is None or not timedelta(0) <= at - state.read_at < REFRESH:
                state = self._state = read_state(pool, at, thresholds)
        return state


def read_state(pool: Any, at: datetime, thresholds: Thresholds) -> GuardState:
    params = {
        "two_factor": thresholds.two_factor,
        "quantile": 1.0 - FLAG_SHARE_BUDGET,
        "at": at,
        "window": SCORE_WINDOW,
    }
    with pool.connection() as conn:
        row = conn.execute(GUARD_SQL, params).fetchone()
    first, scores, flagged, quantile = row
    history = None if first is None else max(0.0, (at - first).total_seconds() / 86_400.0)
    cut = guard_cut(history, int(scores), float(flagged), quantile, thresholds)
    return GuardState(
        read_at=at, history_days=history, scores=int(scores), flagged_share=float(flagged), cut=cut
    )


def percentile_cont(ordered: list[float], q: float) -> float | None:
    """PostgreSQL's percentile_cont on an ascending list (linear between the two nearest ranks)."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class ReplayGuard:
    """The guard over decisions made in time order outside the request path (the seeded purchases of
    `make run`): the same state, from the scores this replay has made, re-read every REFRESH."""

    def __init__(self, first_order_at: datetime | None, thresholds: Thresholds) -> None:
        self.first_order_at = first_order_at
        self.thresholds = thresholds
        self._recent: list[tuple[datetime, float]] = []
        self._cut: float | None = None
        self._read_at: datetime | None = None

    def score(self, at: datetime, model_score: float) -> float:
        if self._read_at is None or at - self._read_at >= REFRESH:
            self._recent = [(t, s) for t, s in self._recent if t >= at - SCORE_WINDOW]
            ordered = sorted(s for _, s in self._recent)
            flagged = (
                sum(1 for s in ordered if s >= self.thresholds.two_factor) / len(ordered) if ordered else 0.0
            )
            history = (
                None if self.first_order_at is None else (at - self.first_order_at).total_seconds() / 86_400
            )
            quantile = percentile_cont(ordered, 1.0 - FLAG_SHARE_BUDGET)
            self._cut = guard_cut(history, len(ordered), flagged, quantile, self.thresholds)
            self._read_at = at
        self._recent.append((at, model_score))
        return guarded_score(model_score, self._cut, self.thresholds)

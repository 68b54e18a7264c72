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

What: while the history is short (fewer than `MIN_HISTORY_ORDERS` orders older than
`COLD_START_DAYS` in marketplace.orders: a new deployment without a backfill, the 7-day demo; a few
old orders, like the demo cast's, do not make a history), and the last 24 h hold at least
`MIN_SCORES` model decisions of which more than `FLAG_SHARE_BUDGET` reached REQUIRE_2FA or stricter,
the guard recalibrates the score: a monotone piecewise-linear map that moves the live (1 - budget)
quantile of the model's scores onto the REQUIRE_2FA threshold, [0, quantile] onto [0, threshold] and
[quantile, 1] onto [threshold, 1]: the share of purchases at REQUIRE_2FA or stricter is then about the
budget, and the highest scores keep the strictest bands. The
decision still follows from the score the client sees. The guard's state is re-read at most every
`REFRESH` of the request's clock (one aggregate query on the stored decisions), so the hot path pays
nothing between refreshes.

What it is not: it never raises a score, keeps the order of the scores, and is off once the history
is long enough (or too few decisions exist to know the distribution: then the model
decides alone, as before).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.config import Thresholds
from shared.scoring.decision import guarded_score

COLD_START_DAYS = 28.0  # the history that counts: orders older than this
MIN_HISTORY_ORDERS = 1000  # fewer orders older than COLD_START_DAYS: the history is short
FLAG_SHARE_BUDGET = 0.03  # REQUIRE_2FA or stricter, of all purchases: 1.8% FPR + ~1.2% fraud
MIN_SCORES = 200  # fewer decisions in the last 24 h: the distribution is not known yet
SCORE_WINDOW = timedelta(hours=24)
REFRESH = timedelta(minutes=10)

GUARD_SQL = """
SELECT (SELECT count(*) FROM (SELECT 1 FROM marketplace.orders WHERE created_at < %(at)s - %(history)s
                               LIMIT %(enough)s) old),
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
    old_orders: int  # orders older than COLD_START_DAYS (counted up to MIN_HISTORY_ORDERS)
    scores: int
    flagged_share: float
    cut: float | None


def guard_cut(
    old_orders: int, scores: int, flagged_share: float, quantile: float | None, thresholds: Thresholds
) -> float | None:
    """The score the guard moves onto the REQUIRE_2FA threshold, or None when it stays off."""
    if old_orders >= MIN_HISTORY_ORDERS or scores < MIN_SCORES or quantile is None:
        return None
    if flagged_share <= FLAG_SHARE_BUDGET or quantile <= thresholds.two_factor:
        return None
    return min(float(quantile), 0.999)


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
        "history": timedelta(days=COLD_START_DAYS),
        "enough": MIN_HISTORY_ORDERS,
    }
    with pool.connection() as conn:
        row = conn.execute(GUARD_SQL, params).fetchone()
    old_orders, scores, flagged, quantile = row
    cut = guard_cut(int(old_orders), int(scores), float(flagged), quantile, thresholds)
    return GuardState(
        read_at=at, old_orders=int(old_orders), scores=int(scores), flagged_share=float(flagged), cut=cut
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
    `make run`): the same state, from the scores this replay has made and the orders' times, re-read
    every REFRESH."""

    def __init__(self, order_times: list[datetime], thresholds: Thresholds) -> None:
        self.order_times = sorted(order_times)
        self.thresholds = thresholds
        self._recent: list[tuple[datetime, float]] = []
        self._cut: float | None = None
        self._read_at: datetime | None = None

    def score(self, at: datetime, model_score: float) -> float:
        if self._read_at is None or at - self._read_at >= REFRESH:
            self._recent = [(t, s) for t, s in self._recent if t >= at - SCORE_WINDOW]
            ordered = sorted(s for _, s in self._recent)
            two_factor = self.thresholds.two_factor
            flagged = sum(1 for s in ordered if s >= two_factor) / len(ordered) if ordered else 0.0
            old = bisect_left(self.order_times, at - timedelta(days=COLD_START_DAYS))
            quantile = percentile_cont(ordered, 1.0 - FLAG_SHARE_BUDGET)
            self._cut = guard_cut(old, len(ordered), flagged, quantile, self.thresholds)
            self._read_at = at
        self._recent.append((at, model_score))
        return guarded_score(model_score, self._cut, self.thresholds)

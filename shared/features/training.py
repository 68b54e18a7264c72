"""Point-in-time training sets: one row per transaction in [start, end), each feature as the
scoring path would have served it at that transaction's time `t`, never from after `t`.

Real-time features (velocity, previous location, resale time, the wallet's first purchase) are
exact at `t`. Batch features are the snapshot in force at `t` (shared.features.cadence): hourly ones
(hold time, popularity, the 7-day price reference, the first Transfer on chain) as of
HOURLY.snapshot_at(t), daily ones (attendance, payment diversity, centrality) as of
DAILY.snapshot_at(t); both from the data strictly before their boundary, as the batch jobs compute
them. Training on fresher values than the scoring path can serve would teach the model a signal it
never gets in production.

The user of a purchase is the buyer wallet's linked account (intel.wallets.user_id), as the
scoring path resolves it; no linked account: payment diversity missing, no previous location.

The signals beyond the ten (shared.features.signals) are exact at `t`: each row runs the query the
scoring path runs, with the order's payment instrument as the request's fingerprint.

Labels: `is_fraud` = intel.fraud_labels.is_fraud; a transaction with no label yet counts as
legitimate (0). Labels arrive days after the purchase (chargebacks), so call this with an `end`
old enough for labels to have arrived (`label_horizon` drops the newest transactions for you);
the label itself is the only column allowed to come from after `t`.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from shared.features import formulas
from shared.features.batch import centrality_snapshot
from shared.features.cadence import DAILY, EPOCH, HOURLY, snapshot_day
from shared.features.definitions import MODEL_FEATURES
from shared.features.signals import signals_for

if TYPE_CHECKING:
    import pandas as pd

# Fraud labels (chargebacks) arrive up to 30 days after the purchase: a training window ends this long
# before now, so that every row's label is as final as it will get.
LABEL_SETTLING = timedelta(days=30)

# date_bin(period, t - delay, epoch) is Cadence.snapshot_at in SQL (a test holds them equal).
_ROWS_SQL = """
SELECT x.transaction_id, x.occurred_at, x.wallet_address, xw.user_id, x.event_id, x.price_paid::float8,
       x.geo_lat, x.geo_lon, tk.minted_at, e.face_value::float8, b.hourly, b.daily,
       (SELECT count(*) FROM intel.transactions v
         WHERE v.wallet_address = x.wallet_address
           AND v.occurred_at > x.occurred_at - %(w1)s AND v.occurred_at < x.occurred_at) AS velocity,
       (SELECT least(
            (SELECT min(block_time) FROM intel.chain_events c
              WHERE c.event_name = 'Transfer' AND c.from_address = x.wallet_address AND c.block_time < b.hourly),
            (SELECT min(block_time) FROM intel.chain_events c
              WHERE c.event_name = 'Transfer' AND c.to_address = x.wallet_address AND c.block_time < b.hourly),
            (SELECT min(f.occurred_at) FROM intel.transactions f
              WHERE f.wallet_address = x.wallet_address AND f.occurred_at < x.occurred_at),
            (SELECT created_at FROM marketplace.wallets mw
              WHERE mw.address = x.wallet_address AND mw.created_at < x.occurred_at)))
           AS first_seen_at,
       (SELECT avg(hold_hours) FROM intel.ticket_holds h
         WHERE h.holder = x.wallet_address AND h.sent_at < b.hourly) AS hold_time,
       (SELECT count(DISTINCT tk2.event_id) FROM intel.chain_events c
          JOIN intel.tickets tk2 ON tk2.ticket_id = c.token_id::bigint
         WHERE c.event_name = 'Transfer' AND c.to_address = x.wallet_address AND c.block_time < b.daily)
           AS attendance,
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY p.price_paid) FROM intel.transactions p
         WHERE p.event_id = x.event_id AND p.occurred_at >= b.hourly - %(w7)s
           AND p.occurred_at < b.hourly) AS ref_price,
       CASE WHEN xw.user_id IS NOT NULL THEN
           (SELECT count(DISTINCT q.payment_instrument) FROM intel.transactions q
             WHERE q.user_id = xw.user_id AND q.occurred_at >= b.daily - %(w30)s AND q.occurred_at < b.daily)
       END AS diversity,
       pl.geo_lat, pl.geo_lon, pl.occurred_at,
       coalesce(l.is_fraud, false) AS is_fraud,
       x.payment_instrument, host(x.client_ip), x.ticket_id
FROM intel.transactions x
JOIN intel.tickets tk ON tk.ticket_id = x.ticket_id
JOIN intel.events e ON e.event_id = x.event_id
LEFT JOIN intel.wallets xw ON xw.address = x.wallet_address
LEFT JOIN intel.fraud_labels l ON l.transaction_id = x.transaction_id
CROSS JOIN LATERAL (
    SELECT date_bin(%(hourly_period)s, x.occurred_at - %(hourly_delay)s, %(epoch)s) AS hourly,
           date_bin(%(daily_period)s, x.occurred_at - %(daily_delay)s, %(epoch)s) AS daily) b
LEFT JOIN LATERAL (
    SELECT geo_lat, geo_lon, occurred_at FROM intel.transactions p
    WHERE p.user_id = xw.user_id AND p.occurred_at < x.occurred_at AND p.geo_lat IS NOT NULL
    ORDER BY p.occurred_at DESC LIMIT 1) pl ON true
WHERE x.occurred_at >= %(start)s AND x.occurred_at < %(end)s
ORDER BY x.occurred_at, x.transaction_id
"""

_HOURLY_COLUMN = 10  # b.hourly in _ROWS_SQL
_MICROS_SQL = "(extract(epoch FROM occurred_at) * 1000000)::bigint"


def _micros(at: datetime) -> int:
    return round(at.timestamp() * 1_000_000)


def _popularity(conn: psycopg.Connection, rows: list[tuple[Any, ...]], end: datetime) -> list[float]:
    """event_popularity_score as of each row's hourly boundary, from sorted per-event time lists
    (an SQL subquery per row would scan every event's last 24 h of sales for the maximum). Rows share
    their hourly boundary, so each count is computed once per (boundary, event). Pure Python: the
    training-set export runs in a Lambda function without numpy."""
    if not rows:
        return []
    sales: dict[int, list[int]] = {}
    first_primary: dict[int, dict[int, int]] = {}
    for event_id, ticket_id, kind, at in conn.execute(
        f"SELECT event_id, ticket_id, kind, {_MICROS_SQL} FROM intel.transactions WHERE occurred_at < %s",
        (end,),
    ):
        sales.setdefault(event_id, []).append(at)
        if kind == "primary":
            firsts = first_primary.setdefault(event_id, {})
            if ticket_id not in firsts or at < firsts[ticket_id]:
                firsts[ticket_id] = at
    capacity: dict[int, int] = dict(conn.execute("SELECT event_id, capacity FROM intel.events").fetchall())
    window = int(formulas.POPULARITY_WINDOW.total_seconds() * 1_000_000)
    sorted_sales = {e: sorted(times) for e, times in sales.items()}
    sorted_firsts = {e: sorted(firsts.values()) for e, firsts in first_primary.items()}
    recent_at: dict[int, dict[int, int]] = {}  # boundary -> event -> sales in the window before it
    busiest_at: dict[int, int] = {}

    def recent(boundary: int) -> dict[int, int]:
        if boundary not in recent_at:
            counts = {
                e: bisect_left(times, boundary) - bisect_left(times, boundary - window)
                for e, times in sorted_sales.items()
            }
            recent_at[boundary] = counts
            busiest_at[boundary] = max(counts.values(), default=0)
        return recent_at[boundary]

    out = []
    for row in rows:
        event_id, boundary = row[4], _micros(row[_HOURLY_COLUMN])
        counts = recent(boundary)
        sold = bisect_left(sorted_firsts[event_id], boundary) if event_id in sorted_firsts else 0
        out.append(
            formulas.event_popularity_score(
                sold, capacity[event_id], counts.get(event_id, 0), busiest_at[boundary]
            )
        )
    return out


TRAINING_SET_COLUMNS = ("transaction_id", "occurred_at", *MODEL_FEATURES, "is_fraud")


def training_rows(
    conn: psycopg.Connection, start: datetime, end: datetime, *, label_horizon: timedelta | None = None
) -> list[list[Any]]:
    """The training set as rows of TRAINING_SET_COLUMNS (transaction id, occurrence time, the features
    in MODEL_FEATURES order, is_fraud 0/1), in time order. A missing feature is None, never 0. Pure
    Python (no pandas, no numpy): the retraining pipeline's export function runs it."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if label_horizon is not None:
        latest = conn.execute("SELECT max(labelled_at) FROM intel.fraud_labels").fetchone()
        if latest and latest[0] is not None:
            end = min(end, latest[0] - label_horizon)
    if end <= start:
        return []
    rows = conn.execute(
        _ROWS_SQL,
        {
            "start": start,
            "end": end,
            "w1": formulas.VELOCITY_WINDOW,
            "w7": formulas.PRICE_REFERENCE_WINDOW,
            "w30": formulas.PAYMENT_WINDOW,
            "hourly_period": HOURLY.period,
            "hourly_delay": HOURLY.publish_delay,
            "daily_period": DAILY.period,
            "daily_delay": DAILY.publish_delay,
            "epoch": EPOCH,
        },
    ).fetchall()
    popularity = _popularity(conn, rows, end)
    centrality: dict[Any, dict[str, float]] = {}
    records = []
    for row, popularity_score in zip(rows, popularity, strict=True):
        (txn_id, at, wallet, _user, _event, price, lat, lon, minted_at, face_value, _hourly, daily, velocity,
         first_seen, hold, attendance, ref_price, diversity, prev_lat, prev_lon, prev_at, is_fraud,
         instrument, ip, ticket) = row  # fmt: skip
        day = snapshot_day(daily)
        if day not in centrality:
            centrality[day] = centrality_snapshot(conn, day)
        previous = (prev_lat, prev_lon, prev_at) if prev_lat is not None and prev_lon is not None else None
        values = {
            "txn_velocity_1h": float(velocity),
            "wallet_age_days": formulas.wallet_age_days(first_seen, at),
            "avg_ticket_hold_time": hold,
            "event_popularity_score": popularity_score,
            "price_deviation_ratio": formulas.price_deviation_ratio(price, ref_price, face_value),
            "cross_event_attendance": float(attendance),
            "geo_velocity_flag": formulas.geo_velocity_flag(previous, lat, lon, at),
            "payment_method_diversity": diversity,
            "wallet_centrality": centrality[day].get(wallet, 0.0),
            "resale_time": formulas.resale_time_hours(minted_at, at),
        }
        # The signals as scoring computes them, with the order's instrument as the request's fingerprint.
        values |= signals_for(conn, wallet=wallet, ticket=int(ticket), at=at, fingerprint=instrument, ip=ip)
        features = [None if (v := values[name]) is None else float(v) for name in MODEL_FEATURES]
        records.append([txn_id, at, *features, int(bool(is_fraud))])
    return records


def build_training_set(
    conn: psycopg.Connection, start: datetime, end: datetime, *, label_horizon: timedelta | None = None
) -> pd.DataFrame:
    """`training_rows` as a DataFrame. Columns: transaction_id, occurred_at, <MODEL_FEATURES...>,
    is_fraud (0/1). Missing feature values are NaN (the model's "missing"), never 0."""
    import pandas as pd

    records = training_rows(conn, start, end, label_horizon=label_horizon)
    frame = pd.DataFrame.from_records(records, columns=list(TRAINING_SET_COLUMNS))
    for name in MODEL_FEATURES:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    frame["is_fraud"] = frame["is_fraud"].astype("int64")
    return frame

"""The ten features of ../shared/spec/features.md, in the order the model sees them.

This tuple is the one source of feature order: the batch jobs, the real-time path, the
training-set builder, the model manifest and the scoring API all read it. How fresh each one is
when served, and so in training, is in shared/features/cadence.py.

One definition differs from features.md (read-only here): wallet_age_days counts from the earlier
of the wallet's first Transfer and its first marketplace purchase. The scoring path knows a
purchase the moment it is scored but a Transfer only once the ETL loads it; without the purchase,
a wallet that bought an hour ago looked "never seen", and the model lost most of its signal
(cadence.py gives the measurement).
"""

from __future__ import annotations

from typing import Final

FEATURE_NAMES: Final[tuple[str, ...]] = (
    "txn_velocity_1h",  # purchases by the wallet in (t-60 min, t), this one excluded
    "wallet_age_days",  # days since the wallet's first Transfer or purchase; 0 if never seen
    "avg_ticket_hold_time",  # mean hours held of tickets later sent away; None if it never sold
    "event_popularity_score",  # 0.5 sold/capacity + 0.5 sales_24h/max live event sales_24h
    "price_deviation_ratio",  # (p - ref) / ref, ref = 7-day median trade price of the event, else face value
    "cross_event_attendance",  # distinct events the wallet ever held a ticket for
    "geo_velocity_flag",  # 1 if implied speed from the user's previous location > 900 km/h and > 100 km
    "payment_method_diversity",  # distinct payment instruments of the user in 30 days
    "wallet_centrality",  # PageRank in the 30-day seller -> buyer transfer graph
    "resale_time",  # hours from the ticket's mint to t
)

# Feature values as the model takes them: a float, or None for "missing" (never 0 for missing).
FeatureVector = dict[str, float | None]

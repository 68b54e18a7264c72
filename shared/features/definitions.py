"""The ten features of ../shared/spec/features.md, in the order the model sees them.

This tuple is the one source of feature order: the batch jobs, the real-time path, the
training-set builder, the model manifest and the scoring API all read it. How fresh each one is
when served, and so in training, is in shared/features/cadence.py.

One definition differs from features.md (read-only here): wallet_age_days counts from the earliest
of the wallet's registration with the marketplace (its link to an account, the backend's own record,
through ingest's wallet.linked), its first Transfer on chain (loaded from the contract's deployment
block) and its first marketplace purchase. Never from when this system first saw the wallet: that
measures the age of the deployment (or of a simulated world), not of the wallet; on a new
deployment's first day every honest wallet looked minutes old (issue 23). The purchase still counts
because the scoring path knows it the moment it is scored, a Transfer only once the ETL loads it.

SIGNAL_NAMES are the signals beyond the ten (shared.features.signals, issue 23): exact at the
purchase's time, from the backend's records and the request. The service computes all of
MODEL_FEATURES for every purchase; a model scores the ones its manifest names (so a model trained on
the ten alone still loads and scores).
"""

from __future__ import annotations

from typing import Final

FEATURE_NAMES: Final[tuple[str, ...]] = (
    "txn_velocity_1h",  # purchases by the wallet in (t-60 min, t), this one excluded
    "wallet_age_days",  # days since the wallet's registration, first Transfer or purchase; 0 if never seen
    "avg_ticket_hold_time",  # mean hours held of tickets later sent away; None if it never sold
    "event_popularity_score",  # 0.5 sold/capacity + 0.5 sales_24h/max live event sales_24h
    "price_deviation_ratio",  # (p - ref) / ref, ref = 7-day median trade price of the event, else face value
    "cross_event_attendance",  # distinct events the wallet ever held a ticket for
    "geo_velocity_flag",  # 1 if implied speed from the user's previous location > 900 km/h and > 100 km
    "payment_method_diversity",  # distinct payment instruments of the user in 30 days
    "wallet_centrality",  # PageRank in the 30-day seller -> buyer transfer graph
    "resale_time",  # hours from the ticket's mint to t
)

SIGNAL_NAMES: Final[tuple[str, ...]] = (
    "account_age_days",  # days since the wallet's account registered; None without an account
    "payment_instruments_24h",  # distinct instruments the wallet paid with in 24 h, this one included
    "instrument_wallets_7d",  # other wallets that paid with this instrument in 7 days; None without one
    "failed_logins_1h",  # failed logins of the account in the hour before
    "new_device",  # 1 if the account's current session has a user agent its 90-day history never had
    "new_ip",  # 1 if the buyer IP is none of the account's 90-day session IPs
    "resale_cycle_length",  # wallets on the closed cycle of resales this purchase makes (2-4), else 0
    "foreign_ip",  # 1 if the buyer IP is in another country than the account's; 0 for an unknown IP
)
MODEL_FEATURES: Final[tuple[str, ...]] = FEATURE_NAMES + SIGNAL_NAMES

# Feature values as the model takes them: a float, or None for "missing" (never 0 for missing).
FeatureVector = dict[str, float | None]

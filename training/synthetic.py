"""A synthetic labelled transaction table shaped like the ETL training set (transaction_id, occurred_at,
the ten features, is_fraud): for tests and benchmarks, and as a stated fallback source. Fraud shows
in the features noisily and overlaps legitimate traffic, so the task is not trivially separable."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared.features.definitions import FEATURE_NAMES


def synthetic_transactions(
    n: int = 4000,
    *,
    weeks: int = 4,
    fraud_rate: float = 0.05,
    seed: int = 7,
    overlap: float = 0.5,
    with_scenario: bool = False,
) -> pd.DataFrame:
    """`overlap` in [0, 1): the share of frauds that look like legitimate traffic on most features.
    `with_scenario`: a last column `scenario` (loud / quiet fraud, legit), as the simulator's truth."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-09-01", tz="UTC")
    occurred = start + pd.to_timedelta(np.sort(rng.uniform(0, weeks * 7 * 86400, n)), unit="s")
    fraud = rng.random(n) < fraud_rate
    loud = fraud & (rng.random(n) >= overlap)  # frauds with the typical signature
    frame = pd.DataFrame(
        {
            "transaction_id": [f"tx-{i:07d}" for i in range(n)],
            "occurred_at": occurred,
            "txn_velocity_1h": rng.poisson(np.where(loud, 4.0, np.where(fraud, 1.2, 0.6))).astype(float),
            "wallet_age_days": np.round(
                rng.exponential(np.where(loud, 8.0, np.where(fraud, 90.0, 200.0))), 2
            ),
            "avg_ticket_hold_time": rng.gamma(2.0, np.where(fraud, 6.0, 40.0)),
            "event_popularity_score": np.clip(rng.beta(2, 3, n) + 0.15 * fraud, 0, 1),
            "price_deviation_ratio": rng.normal(np.where(loud, 0.6, np.where(fraud, 0.2, 0.05)), 0.3),
            "cross_event_attendance": rng.poisson(np.where(fraud, 2.0, 4.0)).astype(float),
            "geo_velocity_flag": (rng.random(n) < np.where(fraud, 0.2, 0.02)).astype(float),
            "payment_method_diversity": rng.poisson(np.where(fraud, 2.2, 1.2)).astype(float),
            "wallet_centrality": rng.gamma(1.0, np.where(loud, 3e-3, 1e-3)),
            "resale_time": rng.exponential(np.where(fraud, 20.0, 90.0)),
        }
    )
    frame.loc[rng.random(n) < 0.5, "avg_ticket_hold_time"] = np.nan  # wallets that never sold
    frame.loc[rng.random(n) < 0.05, "wallet_centrality"] = np.nan
    frame["is_fraud"] = fraud.astype(int)
    assert list(frame.columns[2:-1]) == list(FEATURE_NAMES)
    if with_scenario:
        frame["scenario"] = np.where(loud, "loud_fraud", np.where(fraud, "quiet_fraud", "legit"))
    return frame

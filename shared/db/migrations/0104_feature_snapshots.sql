-- Training/serving agreement (shared/features/cadence.py): every batch feature the scoring path
-- reads is a snapshot as of a cadence boundary, so the two inputs it used to compute at request
-- time move into the snapshots too.
--   wallet_features.first_seen_at: the wallet's first Transfer before the hourly boundary (null:
--     none yet); scoring takes the earlier of it and the wallet's first purchase.
--   event_features.ref_price_7d: the median price of the event's trades in the 7 days before the
--     hourly boundary (null: none), the reference of price_deviation_ratio.
ALTER TABLE intel.wallet_features
    ADD COLUMN first_seen_at    timestamptz,
    ADD COLUMN first_seen_as_of timestamptz;

ALTER TABLE intel.event_features
    ADD COLUMN ref_price_7d double precision CHECK (ref_price_7d >= 0);

-- The boundaries a run wrote ({"hourly": ..., "daily": ...}); as_of stays the run's own time.
ALTER TABLE intel.feature_runs ADD COLUMN snapshots jsonb;

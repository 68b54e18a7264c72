-- The signals beyond the ten features (shared/features/signals.py) read the backend's own tables at
-- each purchase's time: these indexes keep each of their lookups to a few index pages.
CREATE INDEX IF NOT EXISTS orders_buyer_wallet_idx ON marketplace.orders (buyer_wallet, created_at);
CREATE INDEX IF NOT EXISTS orders_seller_wallet_idx ON marketplace.orders (seller_wallet, created_at)
    WHERE seller_wallet IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_instrument_idx ON marketplace.orders (payment_instrument, created_at);
CREATE INDEX IF NOT EXISTS orders_ticket_idx ON marketplace.orders (ticket_id, created_at);
CREATE INDEX IF NOT EXISTS sessions_user_idx ON marketplace.sessions (user_id, started_at);
CREATE INDEX IF NOT EXISTS login_attempts_user_idx ON marketplace.login_attempts (user_id, attempted_at);

-- The model's own score beside the one the client saw: the cold-start guard (shared/scoring/coldstart.py)
-- may move the client's while the marketplace's history is short, and measures the model, not itself.
ALTER TABLE intel.fraud_predictions
    ADD COLUMN model_score double precision CHECK (model_score BETWEEN 0 AND 1);

-- The hourly ETL reads each marketplace table from its watermark: WHERE (updated_at, key) > (mark)
-- ORDER BY updated_at, key (shared/etl/backend.py). Orders, sessions and login attempts had an index
-- for it (0001); these four did not, so every run scanned and filtered the whole table to find the
-- few rows changed in the last hour: at 35 days x 3,000 purchases a day (134k tickets, 31k wallets,
-- 27k users) about 80 ms a run, growing with the tables. With the index a run reads what changed.
CREATE INDEX IF NOT EXISTS users_updated_idx ON marketplace.users (updated_at, user_id);
CREATE INDEX IF NOT EXISTS wallets_updated_idx ON marketplace.wallets (updated_at, address);
CREATE INDEX IF NOT EXISTS events_updated_idx ON marketplace.events (updated_at, event_id);
CREATE INDEX IF NOT EXISTS tickets_updated_idx ON marketplace.tickets (updated_at, ticket_id);

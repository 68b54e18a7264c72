-- Ingest (POST /api/v1/events, issue 11): the marketplace's facts, stored once each.
-- ingest.events is the ledger: an event id in it has been applied, so a repeated id is a no-op.
-- source_occurred_at on each backend table is the occurred_at of the fact the row holds now: an upsert
-- overwrites a row only with a newer fact, so late and out-of-order deliveries resolve by occurred_at
-- (NULL: a row not written by ingest, e.g. the simulator's; any fact replaces it).
CREATE SCHEMA IF NOT EXISTS ingest;

CREATE TABLE ingest.events (
    event_id    text PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 128),
    type        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    data        jsonb NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingest_events_occurred_idx ON ingest.events (occurred_at);

ALTER TABLE marketplace.users ADD COLUMN source_occurred_at timestamptz;
ALTER TABLE marketplace.wallets ADD COLUMN source_occurred_at timestamptz;
ALTER TABLE marketplace.events ADD COLUMN source_occurred_at timestamptz;
ALTER TABLE marketplace.tickets ADD COLUMN source_occurred_at timestamptz;
ALTER TABLE marketplace.orders ADD COLUMN source_occurred_at timestamptz;
ALTER TABLE marketplace.sessions ADD COLUMN source_occurred_at timestamptz;
ALTER TABLE marketplace.login_attempts ADD COLUMN source_occurred_at timestamptz;

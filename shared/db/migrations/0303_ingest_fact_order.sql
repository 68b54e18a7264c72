-- Issue 21: the order of two facts about one row, to the nanosecond and without ties left to chance.
-- A fact's occurred_at is read to the nanosecond (shared/instants.py); timestamptz keeps microseconds,
-- so the nanoseconds below them are kept here, beside source_occurred_at (labelled_at for a label).
-- The rule (shared/ingest/store.py): the fact with the later occurred_at wins, compared to the
-- nanosecond; at an equal occurred_at the fact ingested later wins (a later batch of the marketplace's
-- FIFO group, or later in its batch): the last word the marketplace sent about the row.
ALTER TABLE marketplace.users ADD COLUMN source_occurred_ns smallint NOT NULL DEFAULT 0
    CHECK (source_occurred_ns BETWEEN 0 AND 999);
ALTER TABLE marketplace.wallets ADD COLUMN source_occurred_ns smallint NOT NULL DEFAULT 0
    CHECK (source_occurred_ns BETWEEN 0 AND 999);
ALTER TABLE marketplace.events ADD COLUMN source_occurred_ns smallint NOT NULL DEFAULT 0
    CHECK (source_occurred_ns BETWEEN 0 AND 999);
ALTER TABLE marketplace.tickets ADD COLUMN source_occurred_ns smallint NOT NULL DEFAULT 0
    CHECK (source_occurred_ns BETWEEN 0 AND 999);
ALTER TABLE marketplace.orders ADD COLUMN source_occurred_ns smallint NOT NULL DEFAULT 0
    CHECK (source_occurred_ns BETWEEN 0 AND 999);
ALTER TABLE marketplace.sessions ADD COLUMN source_occurred_ns smallint NOT NULL DEFAULT 0
    CHECK (source_occurred_ns BETWEEN 0 AND 999);
ALTER TABLE marketplace.login_attempts ADD COLUMN source_occurred_ns smallint NOT NULL DEFAULT 0
    CHECK (source_occurred_ns BETWEEN 0 AND 999);
ALTER TABLE intel.fraud_labels ADD COLUMN labelled_ns smallint NOT NULL DEFAULT 0
    CHECK (labelled_ns BETWEEN 0 AND 999);
-- The ledger keeps each fact's occurred_at whole.
ALTER TABLE ingest.events ADD COLUMN occurred_ns smallint NOT NULL DEFAULT 0
    CHECK (occurred_ns BETWEEN 0 AND 999);

-- ETL room: derived chain data, the feature store tables, and indexes the feature queries need.

-- One row per ticket transfer away from a holder (mints excluded): how long the sender had held it.
-- Derived from intel.chain_events by the chain loader; deleted with the log it comes from.
CREATE TABLE intel.ticket_holds (
    block_number bigint NOT NULL,
    tx_hash      text NOT NULL,
    log_index    integer NOT NULL,
    token_id     numeric(78, 0) NOT NULL,
    holder       text NOT NULL CHECK (holder ~ '^0x[0-9a-f]{40}$'),
    received_at  timestamptz NOT NULL,
    sent_at      timestamptz NOT NULL,
    hold_hours   double precision NOT NULL,
    PRIMARY KEY (block_number, tx_hash, log_index),
    FOREIGN KEY (block_number, tx_hash, log_index)
        REFERENCES intel.chain_events (block_number, tx_hash, log_index) ON DELETE CASCADE
);
CREATE INDEX ticket_holds_holder_idx ON intel.ticket_holds (holder, sent_at);

CREATE INDEX chain_events_transfer_to_idx ON intel.chain_events (to_address, block_time, token_id)
    WHERE event_name = 'Transfer';
CREATE INDEX chain_events_transfer_time_idx ON intel.chain_events (block_time)
    WHERE event_name = 'Transfer';
CREATE INDEX intel_txn_ticket_idx ON intel.transactions (ticket_id, occurred_at);

-- Feature store. Each row holds the value as of `as_of` (exclusive: data strictly before it).
-- Hourly job: avg_ticket_hold_time, event popularity. Daily job: the rest.
CREATE TABLE intel.wallet_features (
    address                 text PRIMARY KEY CHECK (address ~ '^0x[0-9a-f]{40}$'),
    avg_ticket_hold_time    double precision,           -- null: never sent a ticket away
    hold_as_of              timestamptz,
    cross_event_attendance  integer,
    attendance_as_of        timestamptz
);

CREATE TABLE intel.user_features (
    user_id                  bigint PRIMARY KEY,
    payment_method_diversity integer NOT NULL CHECK (payment_method_diversity >= 0),
    as_of                    timestamptz NOT NULL
);

CREATE TABLE intel.event_features (
    event_id               bigint PRIMARY KEY,
    tickets_sold           integer NOT NULL,
    capacity               integer NOT NULL CHECK (capacity > 0),
    sales_24h              integer NOT NULL,
    max_sales_24h          integer NOT NULL,
    event_popularity_score double precision NOT NULL CHECK (event_popularity_score BETWEEN 0 AND 1),
    as_of                  timestamptz NOT NULL
);

-- PageRank of the 30-day transfer graph ending at the start of snapshot_day (UTC).
CREATE TABLE intel.wallet_centrality (
    snapshot_day date NOT NULL,
    address      text NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
    pagerank     double precision NOT NULL CHECK (pagerank >= 0),
    PRIMARY KEY (address, snapshot_day)
);
CREATE INDEX wallet_centrality_day_idx ON intel.wallet_centrality (snapshot_day);

-- One row per feature-job run, for the dashboards and for "when did features last refresh".
CREATE TABLE intel.feature_runs (
    run_id      bigserial PRIMARY KEY,
    mode        text NOT NULL CHECK (mode IN ('hourly', 'daily')),
    as_of       timestamptz NOT NULL,
    rows_written jsonb NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);

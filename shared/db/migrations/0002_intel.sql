-- TicketGuard's own schema: normalized copies, chain events, ETL bookkeeping, predictions, labels,
-- blocklists and the audit log. Later migrations of a room add its own tables (see README: numbering).
CREATE SCHEMA IF NOT EXISTS intel;

-- Contract logs as read by eth_getLogs; (block_number, tx_hash, log_index) identifies one log.
CREATE TABLE intel.chain_events (
    block_number bigint NOT NULL CHECK (block_number >= 0),
    tx_hash      text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
    log_index    integer NOT NULL CHECK (log_index >= 0),
    block_hash   text NOT NULL CHECK (block_hash ~ '^0x[0-9a-f]{64}$'),
    block_time   timestamptz NOT NULL,
    contract     text NOT NULL CHECK (contract ~ '^0x[0-9a-f]{40}$'),
    event_name   text NOT NULL CHECK (event_name IN
                   ('EventCreated', 'Transfer', 'TicketMinted', 'PrimarySale', 'Listed', 'Delisted', 'Resale')),
    token_id     numeric(78, 0),
    from_address text CHECK (from_address ~ '^0x[0-9a-f]{40}$'),
    to_address   text CHECK (to_address ~ '^0x[0-9a-f]{40}$'),
    chain_event_id numeric(78, 0),
    price_wei    numeric(78, 0) CHECK (price_wei >= 0),
    args         jsonb NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (block_number, tx_hash, log_index)
);
CREATE INDEX chain_events_token_idx ON intel.chain_events (token_id, block_number, log_index);
CREATE INDEX chain_events_to_idx ON intel.chain_events (to_address, block_time);
CREATE INDEX chain_events_from_idx ON intel.chain_events (from_address, block_time);

-- Where each incremental job stopped; written in the same transaction as the rows it covers.
CREATE TABLE intel.etl_checkpoints (
    job        text PRIMARY KEY,
    position   jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every record the ETL refused, with why: nothing is dropped silently.
CREATE TABLE intel.etl_rejects (
    reject_id   bigserial PRIMARY KEY,
    source      text NOT NULL,
    natural_key text NOT NULL,
    reason      text NOT NULL,
    payload     jsonb NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, natural_key, reason)
);

CREATE TABLE intel.users (
    user_id    bigint PRIMARY KEY,
    email_hash text NOT NULL,           -- sha256, never the address itself
    country    char(2) NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE intel.wallets (
    address    text PRIMARY KEY CHECK (address ~ '^0x[0-9a-f]{40}$'),
    user_id    bigint REFERENCES intel.users(user_id),
    first_seen_at timestamptz,          -- first on-chain activity (Transfer in or out)
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX intel_wallets_user_idx ON intel.wallets (user_id);

CREATE TABLE intel.events (
    event_id   bigint PRIMARY KEY,
    name       text NOT NULL,
    category   text NOT NULL,
    country    char(2) NOT NULL,
    capacity   integer NOT NULL CHECK (capacity > 0),
    face_value numeric(12, 2) NOT NULL CHECK (face_value >= 0),
    sale_starts_at timestamptz NOT NULL,
    starts_at  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE intel.tickets (
    ticket_id  bigint PRIMARY KEY,
    event_id   bigint NOT NULL REFERENCES intel.events(event_id),
    face_value numeric(12, 2) NOT NULL CHECK (face_value >= 0),
    minted_at  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX intel_tickets_event_idx ON intel.tickets (event_id);

-- One row per purchase, normalized and geolocated. The spec's `transactions`.
CREATE TABLE intel.transactions (
    transaction_id     text PRIMARY KEY,
    order_id           bigint NOT NULL UNIQUE,
    ticket_id          bigint NOT NULL REFERENCES intel.tickets(ticket_id),
    event_id           bigint NOT NULL REFERENCES intel.events(event_id),
    user_id            bigint NOT NULL,
    wallet_address     text NOT NULL CHECK (wallet_address ~ '^0x[0-9a-f]{40}$'),
    seller_wallet      text CHECK (seller_wallet ~ '^0x[0-9a-f]{40}$'),
    kind               text NOT NULL CHECK (kind IN ('primary', 'resale')),
    price_paid         numeric(12, 2) NOT NULL CHECK (price_paid >= 0),
    fee                numeric(12, 2) NOT NULL CHECK (fee >= 0),
    payment_instrument text NOT NULL,
    client_ip          inet NOT NULL,
    geo_country        char(2),
    geo_lat            double precision CHECK (geo_lat BETWEEN -90 AND 90),
    geo_lon            double precision CHECK (geo_lon BETWEEN -180 AND 180),
    status             text NOT NULL,
    occurred_at        timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX intel_txn_time_idx ON intel.transactions (occurred_at);
CREATE INDEX intel_txn_wallet_idx ON intel.transactions (wallet_address, occurred_at);
CREATE INDEX intel_txn_user_idx ON intel.transactions (user_id, occurred_at);
CREATE INDEX intel_txn_event_idx ON intel.transactions (event_id, occurred_at);

-- Every scoring decision, for audit (spec 2.1: 180 days hot, 5 years archived).
CREATE TABLE intel.fraud_predictions (
    prediction_id  bigserial PRIMARY KEY,
    transaction_id text NOT NULL UNIQUE,
    wallet_address text NOT NULL,
    ticket_id      text NOT NULL,
    price_paid     numeric(12, 2) NOT NULL CHECK (price_paid >= 0),
    fraud_score    double precision CHECK (fraud_score BETWEEN 0 AND 1),
    decision       text NOT NULL CHECK (decision IN ('APPROVED', 'REQUIRE_2FA', 'MANUAL_REVIEW', 'BLOCKED')),
    confidence     double precision CHECK (confidence BETWEEN 0 AND 1),
    reason         text NOT NULL DEFAULT 'model',   -- model | blocklist_wallet | blocklist_ip | fail_open
    features       jsonb NOT NULL,
    top_features   jsonb NOT NULL,
    model_version  text NOT NULL,
    degraded       boolean NOT NULL DEFAULT false,
    client_ip_hash text,
    latency_ms     double precision,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fraud_predictions_time_idx ON intel.fraud_predictions (created_at);

-- Labels arrive after the fact (chargebacks, investigations, bans).
CREATE TABLE intel.fraud_labels (
    transaction_id text PRIMARY KEY,
    is_fraud       boolean NOT NULL,
    source         text NOT NULL CHECK (source IN ('chargeback', 'investigation', 'ban', 'customer_report', 'review')),
    labelled_at    timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE intel.blocklist (
    kind       text NOT NULL CHECK (kind IN ('wallet', 'ip')),
    value      text NOT NULL,
    reason     text NOT NULL,
    source     text NOT NULL,          -- soar rule / analyst
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    PRIMARY KEY (kind, value),
    CHECK (kind <> 'wallet' OR value ~ '^0x[0-9a-f]{40}$')
);

CREATE TABLE intel.audit_log (
    audit_id   bigserial PRIMARY KEY,
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text,
    details    jsonb NOT NULL DEFAULT '{}'::jsonb,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_at_idx ON intel.audit_log (at);

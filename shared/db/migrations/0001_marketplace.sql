-- The tables the marketplace backend writes. TicketGuard reads them (ETL) and never writes them,
-- except the simulator that plays the backend locally.
CREATE SCHEMA IF NOT EXISTS marketplace;

CREATE TABLE marketplace.users (
    user_id      bigint PRIMARY KEY,
    email        text NOT NULL UNIQUE CHECK (position('@' in email) > 1),
    display_name text NOT NULL,
    country      char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    kyc_level    smallint NOT NULL DEFAULT 0 CHECK (kyc_level BETWEEN 0 AND 3),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE marketplace.wallets (
    address    text PRIMARY KEY CHECK (address ~ '^0x[0-9a-f]{40}$'),  -- lowercase hex, one spelling
    user_id    bigint NOT NULL REFERENCES marketplace.users(user_id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX wallets_user_idx ON marketplace.wallets (user_id);

CREATE TABLE marketplace.events (
    event_id    bigint PRIMARY KEY,
    name        text NOT NULL,
    venue       text NOT NULL,
    city        text NOT NULL,
    country     char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    category    text NOT NULL CHECK (category IN ('concert', 'sports', 'theatre', 'festival', 'conference')),
    capacity    integer NOT NULL CHECK (capacity > 0),
    face_value  numeric(12, 2) NOT NULL CHECK (face_value >= 0),
    sale_starts_at timestamptz NOT NULL,
    starts_at   timestamptz NOT NULL CHECK (starts_at > sale_starts_at),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE marketplace.tickets (
    ticket_id    bigint PRIMARY KEY,            -- the ERC-721 token id on chain
    event_id     bigint NOT NULL REFERENCES marketplace.events(event_id),
    seat         text NOT NULL,
    face_value   numeric(12, 2) NOT NULL CHECK (face_value >= 0),
    owner_wallet text CHECK (owner_wallet ~ '^0x[0-9a-f]{40}$'),
    minted_at    timestamptz NOT NULL,
    mint_tx_hash text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, seat)
);
CREATE INDEX tickets_event_idx ON marketplace.tickets (event_id);

-- An order is one purchase of one ticket: primary (from the organiser) or resale (between wallets).
CREATE TABLE marketplace.orders (
    order_id           bigint PRIMARY KEY,
    transaction_id     text NOT NULL UNIQUE CHECK (length(transaction_id) BETWEEN 1 AND 128),
    ticket_id          bigint NOT NULL REFERENCES marketplace.tickets(ticket_id),
    event_id           bigint NOT NULL REFERENCES marketplace.events(event_id),
    buyer_user_id      bigint NOT NULL REFERENCES marketplace.users(user_id),
    buyer_wallet       text NOT NULL REFERENCES marketplace.wallets(address),
    seller_wallet      text CHECK (seller_wallet ~ '^0x[0-9a-f]{40}$'),
    kind               text NOT NULL CHECK (kind IN ('primary', 'resale')),
    price              numeric(12, 2) NOT NULL CHECK (price >= 0),
    fee                numeric(12, 2) NOT NULL CHECK (fee >= 0),
    currency           char(3) NOT NULL DEFAULT 'USD',
    payment_type       text NOT NULL CHECK (payment_type IN ('card', 'crypto', 'bank_transfer')),
    payment_instrument text NOT NULL,           -- card fingerprint / paying wallet / IBAN hash
    client_ip          inet NOT NULL,
    status             text NOT NULL CHECK (status IN ('completed', 'refunded', 'charged_back', 'failed')),
    chain_tx_hash      text CHECK (chain_tx_hash ~ '^0x[0-9a-f]{64}$'),
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'primary') = (seller_wallet IS NULL))
);
CREATE INDEX orders_updated_idx ON marketplace.orders (updated_at, order_id);
CREATE INDEX orders_created_idx ON marketplace.orders (created_at);
CREATE INDEX orders_buyer_idx ON marketplace.orders (buyer_user_id, created_at);

CREATE TABLE marketplace.sessions (
    session_id  bigint PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES marketplace.users(user_id),
    ip          inet NOT NULL,
    user_agent  text NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz CHECK (ended_at IS NULL OR ended_at >= started_at),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_updated_idx ON marketplace.sessions (updated_at, session_id);

CREATE TABLE marketplace.login_attempts (
    attempt_id   bigint PRIMARY KEY,
    user_id      bigint REFERENCES marketplace.users(user_id),   -- null: unknown account
    email        text NOT NULL,
    ip           inet NOT NULL,
    success      boolean NOT NULL,
    failure_reason text CHECK (failure_reason IN ('bad_password', 'bad_mfa', 'locked', 'unknown_user')),
    is_admin     boolean NOT NULL DEFAULT false,
    attempted_at timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (success = (failure_reason IS NULL))
);
CREATE INDEX login_attempts_updated_idx ON marketplace.login_attempts (updated_at, attempt_id);

-- The pricing experiment (spec 1.5, issue 28): a multi-armed bandit over four pricing strategies.
-- Each event is assigned one arm once (sticky: a buyer sees one price); its reward is the event's
-- net primary revenue (completed orders, neither BLOCKED by scoring nor charged back) over its face
-- revenue (capacity x face value), settled from the sales that arrived through ingest.
CREATE SCHEMA IF NOT EXISTS pricing;

-- One row: the experiment's kill switch (every quote falls back to arm A's fixed price while set).
CREATE TABLE pricing.experiment (
    experiment_id text PRIMARY KEY CHECK (experiment_id = 'dynamic-pricing'),
    killed        boolean NOT NULL DEFAULT false,
    killed_reason text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO pricing.experiment (experiment_id) VALUES ('dynamic-pricing') ON CONFLICT DO NOTHING;

-- One event, one arm: written once (INSERT ... ON CONFLICT DO NOTHING), never reassigned.
CREATE TABLE pricing.assignments (
    event_id      bigint PRIMARY KEY REFERENCES marketplace.events(event_id),
    arm           char(1) NOT NULL CHECK (arm IN ('A', 'B', 'C', 'D')),
    explored      boolean NOT NULL,
    price_floor   numeric(12, 2) NOT NULL CHECK (price_floor >= 0),
    price_ceiling numeric(12, 2) NOT NULL,
    assigned_at   timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (price_ceiling >= price_floor)
);
CREATE INDEX pricing_assignments_arm_idx ON pricing.assignments (arm);

-- The settled reward of each assigned event (rewritten when a late chargeback or block changes it):
-- the durable arm statistics are these rows grouped by arm; Redis keeps the same sums hot.
CREATE TABLE pricing.rewards (
    event_id     bigint PRIMARY KEY REFERENCES pricing.assignments(event_id),
    arm          char(1) NOT NULL CHECK (arm IN ('A', 'B', 'C', 'D')),
    revenue      numeric(14, 2) NOT NULL CHECK (revenue >= 0),
    sold         integer NOT NULL CHECK (sold >= 0),
    excluded     integer NOT NULL CHECK (excluded >= 0),  -- sales left out: BLOCKED or charged back
    capacity     integer NOT NULL CHECK (capacity > 0),
    reward       double precision NOT NULL CHECK (reward >= 0),
    settled_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pricing_rewards_arm_idx ON pricing.rewards (arm);

-- Arm D's demand model: a constant-elasticity fit per event category (sell-through = scale x
-- multiplier^elasticity), trained by `ticketguard pricing train` from the settled events' sales.
CREATE TABLE pricing.demand_models (
    category   text PRIMARY KEY,
    elasticity double precision NOT NULL,
    scale      double precision NOT NULL CHECK (scale > 0),
    multiplier double precision NOT NULL CHECK (multiplier > 0),  -- the fit's revenue-optimal one
    events     integer NOT NULL CHECK (events > 0),
    trained_at timestamptz NOT NULL DEFAULT now()
);

-- The marketplace's resale listings (`ticket.listed`, until now kept only in the ingest ledger): the
-- newest listing of each ticket; arm B's popularity reads the resale premium from them.
CREATE TABLE marketplace.ticket_listings (
    ticket_id          bigint PRIMARY KEY REFERENCES marketplace.tickets(ticket_id),
    seller_wallet      text NOT NULL CHECK (seller_wallet ~ '^0x[0-9a-f]{40}$'),
    price              numeric(12, 2) NOT NULL CHECK (price >= 0),
    listed_at          timestamptz NOT NULL,
    source_occurred_at timestamptz,
    source_occurred_ns smallint NOT NULL DEFAULT 0 CHECK (source_occurred_ns BETWEEN 0 AND 999),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Retention and GDPR (issue 16): the archive's batch ledger, the per-subject keys of crypto-shredding,
-- the erasure register, and the time indexes the retention job scans by.
CREATE SCHEMA IF NOT EXISTS retention;

-- One row per archive batch (shared/retention/batch.py): `pending` from the moment its key range is
-- chosen until the transaction that deletes the archived rows marks it `done`. A run resumes the
-- pending batch of a table before it plans another one.
CREATE TABLE retention.batches (
    batch_id      text PRIMARY KEY,
    source_table  text NOT NULL,
    day           date NOT NULL,
    key_lo        text NOT NULL,
    key_hi        text NOT NULL,
    cutoff        timestamptz NOT NULL,
    object_key    text NOT NULL,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    row_count     integer CHECK (row_count >= 0),
    source_sha256 text,
    object_bytes  bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    done_at       timestamptz,
    CHECK ((state = 'done') = (done_at IS NOT NULL))
);
CREATE UNIQUE INDEX retention_batches_one_pending ON retention.batches (source_table) WHERE state = 'pending';

-- A data key per subject ('user:<id>', 'wallet:<address>', 'anonymous'). Erasure deletes the row: the
-- archived personal fields it encrypted can no longer be read. key_id names the key in the archive.
CREATE TABLE retention.subject_keys (
    subject    text PRIMARY KEY,
    key_id     uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    key        bytea NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Users erased (GDPR art. 17): a second request for the same user is answered from here.
CREATE TABLE retention.erasures (
    user_id   bigint PRIMARY KEY,
    erased_at timestamptz NOT NULL DEFAULT now(),
    summary   jsonb NOT NULL
);

CREATE INDEX sessions_started_idx ON marketplace.sessions (started_at);
CREATE INDEX intel_sessions_started_idx ON intel.sessions (started_at);
CREATE INDEX login_attempts_attempted_idx ON marketplace.login_attempts (attempted_at);

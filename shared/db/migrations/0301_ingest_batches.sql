-- Ingest through a queue (issue 11): POST /api/v1/events puts the batch on a queue (API Gateway -> SQS
-- in AWS, a directory queue locally) and answers 202 with the batch's id; the consumer stores the events
-- and, in the same transaction, the batch's outcome here. GET /api/v1/events/batches/{batch_id} reads it.
-- A batch id found here has been applied: a redelivered message is a no-op.
CREATE TABLE ingest.batches (
    batch_id     text PRIMARY KEY CHECK (length(batch_id) BETWEEN 1 AND 128),
    api_key_id   text,
    received_at  timestamptz NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL CHECK (status IN ('processed', 'refused')),
    accepted     integer NOT NULL CHECK (accepted >= 0),
    duplicates   integer NOT NULL CHECK (duplicates >= 0),
    rejected     integer NOT NULL CHECK (rejected >= 0),
    error        text,
    results      jsonb NOT NULL
);
CREATE INDEX ingest_batches_processed_idx ON ingest.batches (processed_at);

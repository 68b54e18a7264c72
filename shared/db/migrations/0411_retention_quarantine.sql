-- Issue 21: a row the retention job cannot process (a timestamp no reader can take: year 1 BC, year
-- 10000, shared/instants.py's range) is quarantined here with its reason, as intel.etl_rejects does
-- for the ETL, and left where it is: never archived, never deleted, never in the way of a run.
CREATE TABLE retention.quarantine (
    source_table   text NOT NULL,
    row_key        text NOT NULL,
    reason         text NOT NULL,
    row_text       text NOT NULL,   -- the row as PostgreSQL writes it (a BC year included)
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_table, row_key, reason)
);

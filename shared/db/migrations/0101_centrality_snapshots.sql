-- One row per computed PageRank snapshot, including days whose transfer graph was empty, so that
-- "no snapshot yet" (feature missing) and "not in the graph" (0.0) can be told apart.
CREATE TABLE intel.centrality_snapshots (
    snapshot_day date PRIMARY KEY,
    nodes        integer NOT NULL CHECK (nodes >= 0),
    computed_at  timestamptz NOT NULL DEFAULT now()
);

-- Loading a day of logs pays for every index on intel.chain_events; these two duplicated what
-- chain_events_to_idx (to_address, block_time) already serves, or served only the daily PageRank
-- job, which reads a 30-day slice and is as fast with a scan.
DROP INDEX IF EXISTS intel.chain_events_transfer_to_idx;
DROP INDEX IF EXISTS intel.chain_events_transfer_time_idx;

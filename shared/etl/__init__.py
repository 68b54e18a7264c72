"""Extract (chain logs, backend tables, IP geolocation), transform, load, checkpoints."""

from shared.etl.pipeline import EtlSummary, default_log_source, run_etl_incremental, run_full

__all__ = ["EtlSummary", "default_log_source", "run_etl_incremental", "run_full"]

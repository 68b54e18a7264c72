"""The ETL entry points the Lambda handlers, the CLI, the local runner and the ML room call."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg

from shared.chain.source import LogSource
from shared.errors import ConfigurationError
from shared.etl.backend import BackendStats, sync_backend
from shared.etl.chain import ChainStats, sync_chain
from shared.geo import Geolocator

EtlMode = Literal["hourly", "daily"]
# The daily run re-reads this much of the backend (without moving watermarks) to pick up rows
# whose transactions committed after the hourly watermark had already passed their updated_at.
DAILY_REPAIR_WINDOW = timedelta(hours=26)


@dataclass
class EtlSummary:
    mode: str
    backend: BackendStats = field(default_factory=BackendStats)
    repair: BackendStats | None = None
    chain: ChainStats | None = None
    features: dict[str, Any] | None = None
    views: list[str] | None = None
    seconds: float = 0.0

    @property
    def rows_read(self) -> int:
        return self.backend.read + (self.chain.logs_read if self.chain else 0)

    @property
    def rows_written(self) -> int:
        return self.backend.written + (self.chain.rows_loaded if self.chain else 0)

    @property
    def rows_rejected(self) -> int:
        return self.backend.rejected + (self.chain.rejected if self.chain else 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "rows_rejected": self.rows_rejected,
            "fees_loaded_usd": round(self.backend.fees_loaded_usd, 2),
            "backend": {name: vars(stats) for name, stats in self.backend.tables.items()},
            "chain": None
            if self.chain is None
            else {k: v for k, v in vars(self.chain).items() if k != "seconds"},
            "features": self.features,
            "views": self.views,
            "seconds": round(self.seconds, 3),
        }


def _contract_of(log_source: LogSource, contract_address: str | None) -> str:
    from shared.config import get_settings

    address = contract_address or getattr(log_source, "address", None) or get_settings().contract_address
    if not address:
        raise ConfigurationError("no contract address: pass contract_address or set TG_CONTRACT_ADDRESS")
    return str(address).lower()


def default_log_source() -> LogSource | None:
    """A node from CHAIN_RPC_URL, or None when no chain is configured."""
    from shared.config import get_settings

    url = get_settings().chain_rpc_url
    if not url:
        return None
    from web3 import Web3

    from shared.chain.source import Web3LogSource

    return Web3LogSource(Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10})))


def run_etl_incremental(
    conn: psycopg.Connection,
    *,
    mode: EtlMode = "hourly",
    log_source: LogSource | None = None,
    contract_address: str | None = None,
    since: datetime | None = None,
    confirmations: int | None = None,
    geolocator: Geolocator | None = None,
    settle_seconds: float = 0.0,
    now: datetime | None = None,
) -> EtlSummary:
    """Backend tables from their watermarks (or re-read `since`), then chain logs from the
    checkpoint. `daily` adds a repair re-read of the last DAILY_REPAIR_WINDOW."""
    if mode not in ("hourly", "daily"):
        raise ValueError(f"mode must be 'hourly' or 'daily', got {mode!r}")
    began = time.perf_counter()
    summary = EtlSummary(mode=mode)
    summary.backend = sync_backend(conn, since=since, settle_seconds=settle_seconds, geolocator=geolocator)
    if mode == "daily" and since is None:
        repair_from = (now or datetime.now(UTC)) - DAILY_REPAIR_WINDOW
        summary.repair = sync_backend(conn, since=repair_from, geolocator=geolocator)
    if log_source is not None:
        summary.chain = sync_chain(
            conn, log_source, _contract_of(log_source, contract_address), confirmations=confirmations
        )
    summary.seconds = time.perf_counter() - began
    return summary

"""Where the ETL reads contract logs from: a real node through web3.py, or synthetic logs in the
exact shape `eth_getLogs` returns (for simulated days too large to push through the EVM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class BlockHeader(Protocol):
    number: int
    hash: str  # 0x-prefixed, lowercase, 32 bytes
    timestamp: int  # unix seconds


class LogSource(Protocol):
    """What the chain extractor needs; both implementations return web3-shaped log dicts
    (keys: address, topics, data, blockNumber, blockHash, transactionHash, logIndex, removed)."""

    def latest_block(self) -> int: ...

    def block(self, number: int) -> BlockHeader: ...

    def get_logs(self, from_block: int, to_block: int, address: str) -> Sequence[dict[str, Any]]: ...

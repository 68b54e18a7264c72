"""Where the ETL reads contract logs from: a real node through web3.py, or synthetic logs in the
exact shape `eth_getLogs` returns (for simulated days too large to push through the EVM)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.datastructures import AttributeDict

if TYPE_CHECKING:
    from web3 import Web3


class BlockHeader(Protocol):
    number: int
    hash: str  # 0x-prefixed, lowercase, 32 bytes
    timestamp: int  # unix seconds


class LogSource(Protocol):
    """What the chain extractor needs; both implementations return web3-shaped log dicts
    (keys: address, topics, data, blockNumber, blockHash, transactionHash, logIndex, removed)."""

    def latest_block(self) -> int: ...

    def block(self, number: int) -> BlockHeader: ...

    def get_logs(self, from_block: int, to_block: int, address: str) -> Sequence[Mapping[str, Any]]: ...


# The keys eth_getLogs returns for one log (JSON-RPC spec); both sources return exactly these.
LOG_KEYS = (
    "address",
    "topics",
    "data",
    "blockNumber",
    "blockHash",
    "transactionHash",
    "transactionIndex",
    "logIndex",
    "removed",
)


@dataclass
class Block:
    number: int
    hash: str
    timestamp: int


class Web3LogSource:
    """Logs from a node through web3.py (`eth_getLogs`); works on a local_chain() and on an RPC URL."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def latest_block(self) -> int:
        return int(self.w3.eth.block_number)

    def block(self, number: int) -> Block:
        header = self.w3.eth.get_block(number)
        return Block(
            number=int(header["number"]),
            hash=HexBytes(header["hash"]).to_0x_hex().lower(),
            timestamp=int(header["timestamp"]),
        )

    def get_logs(self, from_block: int, to_block: int, address: str) -> Sequence[Mapping[str, Any]]:
        logs = self.w3.eth.get_logs(
            {"fromBlock": from_block, "toBlock": to_block, "address": to_checksum_address(address)}
        )
        # eth-tester adds a non-standard "type" key and omits "removed"; a node returns LOG_KEYS.
        return [AttributeDict({key: log.get(key, False) for key in LOG_KEYS}) for log in logs]

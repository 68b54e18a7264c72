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
    """Logs from a node through web3.py (`eth_getLogs`); works on a local_chain() and on an RPC URL.

    On a local_chain() it reads blocks and receipts straight from py-evm by default (`direct`):
    eth-tester answers eth_getLogs by looking every transaction up with a scan of the whole chain,
    quadratic in its length (a minute and a half for 300 blocks). The logs are the same (a test
    compares both paths); `direct=False` forces the JSON-RPC path."""

    def __init__(self, w3: Web3, *, direct: bool | None = None) -> None:
        self.w3 = w3
        tester = getattr(w3.provider, "ethereum_tester", None)
        self._chain = tester.backend.chain if tester is not None and direct is not False else None

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
        if self._chain is not None:
            return self._direct_logs(from_block, to_block, address)
        logs = self.w3.eth.get_logs(
            {"fromBlock": from_block, "toBlock": to_block, "address": to_checksum_address(address)}
        )
        # eth-tester adds a non-standard "type" key and omits "removed"; a node returns LOG_KEYS.
        return [AttributeDict({key: log.get(key, False) for key in LOG_KEYS}) for log in logs]

    def _direct_logs(self, from_block: int, to_block: int, address: str) -> list[Mapping[str, Any]]:
        chain = self._chain
        assert chain is not None
        wanted = bytes.fromhex(address.lower().removeprefix("0x"))
        checksum = to_checksum_address(address)
        head = chain.get_canonical_head().block_number
        out: list[Mapping[str, Any]] = []
        for number in range(max(0, from_block), min(to_block, head) + 1):
            block = chain.get_canonical_block_by_number(number)
            if not block.transactions:
                continue
            block_hash = HexBytes(block.hash)
            log_index = 0  # counts every log of the block, as a node does
            receipts = block.get_receipts(chain.chaindb)
            for tx_index, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
                for log in receipt.logs:
                    if log.address == wanted:
                        out.append(
                            AttributeDict(
                                {
                                    "address": checksum,
                                    "topics": [HexBytes(topic.to_bytes(32, "big")) for topic in log.topics],
                                    "data": HexBytes(log.data),
                                    "blockNumber": number,
                                    "blockHash": block_hash,
                                    "transactionHash": HexBytes(tx.hash),
                                    "transactionIndex": tx_index,
                                    "logIndex": log_index,
                                    "removed": False,
                                }
                            )
                        )
                    log_index += 1
        return out

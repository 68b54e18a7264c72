"""A synthetic chain: the TicketMarket's logs built from the contract ABI in exactly the shape
`eth_getLogs` returns, without executing the EVM.

Why it exists: py-evm executes a sale in tens of milliseconds, so a simulated day of 200,000
marketplace events would take the best part of an hour through the EVM; the ETL only ever sees
logs, and these are byte-for-byte what the contract emits for the same calls (a test decodes both
with web3's ABI decoder and compares). It enforces the contract's rules that shape the logs
(ownership, listings, primary-sale-once) so the simulator cannot write a history the contract would
have refused. Blocks come every `block_time_s` seconds from `genesis_timestamp`; hashes are derived
from a salt, so the same calls give the same chain. `reorg()` replaces the last blocks.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import event_abi_to_log_topic, keccak, to_checksum_address
from hexbytes import HexBytes
from web3.datastructures import AttributeDict

from shared.chain.artifacts import ticket_market_abi
from shared.chain.source import Block
from shared.chain.units import MINT_BATCH_MAX, PRIMARY_FEE_BPS, RESALE_FEE_BPS

_STATIC_WORD_TYPES = {"uint256", "uint32", "uint16", "uint8", "address", "bool"}


class SyntheticChainError(ValueError):
    """A call the contract would have reverted (the simulator asked for something impossible)."""


@dataclass
class _Log:
    block_number: int
    transaction_index: int
    log_index: int
    transaction_hash: bytes
    topics: tuple[bytes, ...]
    data: bytes


class _EventEncoder:
    def __init__(self, event_abi: dict[str, Any]) -> None:
        self.name: str = event_abi["name"]
        self.topic0: bytes = bytes(event_abi_to_log_topic(event_abi))  # type: ignore[arg-type]
        self.indexed = [(i["name"], i["type"]) for i in event_abi["inputs"] if i["indexed"]]
        self.plain = [(i["name"], i["type"]) for i in event_abi["inputs"] if not i["indexed"]]
        self.all_static = all(t in _STATIC_WORD_TYPES for _, t in self.indexed + self.plain)

    @staticmethod
    def _word(abi_type: str, value: Any) -> bytes:
        if abi_type == "address":
            return bytes(12) + bytes.fromhex(str(value)[2:])
        return int(value).to_bytes(32, "big")

    def encode(self, args: dict[str, Any]) -> tuple[tuple[bytes, ...], bytes]:
        topics = (self.topic0, *(self._word(t, args[n]) for n, t in self.indexed))
        if self.all_static:
            data = b"".join(self._word(t, args[n]) for n, t in self.plain)
        else:
            data = abi_encode([t for _, t in self.plain], [args[n] for n, _ in self.plain])
        return topics, data


@dataclass
class _Event:
    organizer: str
    capacity: int
    minted: int
    face_value_wei: int


class SyntheticChain:
    """A LogSource (latest_block / block / get_logs) plus the same write methods as
    `TicketMarketClient` (create_event, mint_batch, buy_primary_for, list_for, delist_for,
    buy_resale_for), each taking the time `at` (unix seconds, non-decreasing) of its transaction."""

    def __init__(
        self,
        *,
        contract_address: str,
        genesis_timestamp: int,
        organizer: str,
        fee_recipient: str,
        block_time_s: int = 2,
        salt: str = "ticketguard",
        primary_fee_bps: int = PRIMARY_FEE_BPS,
        resale_fee_bps: int = RESALE_FEE_BPS,
        abi: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        if block_time_s < 1:
            raise ValueError("block_time_s must be at least 1")
        self.address = contract_address.lower()
        self.checksum_address = to_checksum_address(contract_address)
        self.genesis_timestamp = int(genesis_timestamp)
        self.block_time_s = block_time_s
        self.organizer = organizer.lower()
        self.fee_recipient = fee_recipient.lower()
        self.primary_fee_bps = primary_fee_bps
        self.resale_fee_bps = resale_fee_bps
        self._salt = salt.encode()
        self._encoders = {
            item["name"]: _EventEncoder(item)
            for item in (abi if abi is not None else ticket_market_abi())
            if item.get("type") == "event"
        }
        self._head = 0
        self._tx_count = 0
        self._generation: dict[int, int] = {}  # block number -> times it was replaced by a reorg
        self._logs: dict[int, list[_Log]] = {}  # block number -> its logs, in log_index order
        self._tx_in_block: dict[int, int] = {}
        self._blocks_with_logs: list[int] = []  # sorted
        # Contract state that decides which calls succeed.
        self._events: dict[int, _Event] = {}
        self._owners: dict[int, str] = {}
        self._event_of: dict[int, int] = {}
        self._primary_sold: set[int] = set()
        self._listing: dict[int, int] = {}
        self.pending_withdrawals: dict[str, int] = {}

    # ------------------------------------------------------------------ LogSource
    def latest_block(self) -> int:
        return self._head

    def block(self, number: int) -> Block:
        if not 0 <= number <= self._head:
            raise ValueError(f"block {number} does not exist (latest is {self._head})")
        return Block(
            number=number, hash="0x" + self._block_hash(number).hex(), timestamp=self._block_time(number)
        )

    def get_logs(self, from_block: int, to_block: int, address: str) -> Sequence[Mapping[str, Any]]:
        if address.lower() != self.address:
            return []
        to_block = min(to_block, self._head)
        start = bisect.bisect_left(self._blocks_with_logs, from_block)
        stop = bisect.bisect_right(self._blocks_with_logs, to_block)
        out: list[Mapping[str, Any]] = []
        for number in self._blocks_with_logs[start:stop]:
            block_hash = HexBytes(self._block_hash(number))
            out.extend(
                AttributeDict(
                    {
                        "address": self.checksum_address,
                        "topics": [HexBytes(topic) for topic in log.topics],
                        "data": HexBytes(log.data),
                        "blockNumber": log.block_number,
                        "blockHash": block_hash,
                        "transactionHash": HexBytes(log.transaction_hash),
                        "transactionIndex": log.transaction_index,
                        "logIndex": log.log_index,
                        "removed": False,
                    }
                )
                for log in self._logs[number]
            )
        return out

    # ------------------------------------------------------------------ blocks
    def _block_hash(self, number: int) -> bytes:
        generation = self._generation.get(number, 0)
        return bytes(
            keccak(self._salt + b":block:" + number.to_bytes(8, "big") + generation.to_bytes(4, "big"))
        )

    def _block_time(self, number: int) -> int:
        return self.genesis_timestamp + number * self.block_time_s

    def block_for_time(self, at: int) -> int:
        """The first block at or after `at` (a transaction is mined after it is sent)."""
        return max(0, -(-(int(at) - self.genesis_timestamp) // self.block_time_s))

    def advance_to(self, at: int) -> int:
        """Moves the head to the block of time `at` (empty blocks in between); returns the head."""
        self._head = max(self._head, self.block_for_time(at))
        return self._head

    def reorg(self, depth: int, *, drop_tx_hashes: Iterable[str] | None = None) -> list[str]:
        """Replaces the last `depth` blocks by others at the same heights: new hashes; the logs of
        the transactions in `drop_tx_hashes` disappear (default: every transaction in those
        blocks, as when the new branch did not include them). Returns the dropped tx hashes."""
        if depth < 1 or depth > self._head:
            raise ValueError(f"reorg depth must be between 1 and {self._head}, got {depth}")
        first = self._head - depth + 1
        affected = [n for n in self._blocks_with_logs if n >= first]
        in_window = {"0x" + log.transaction_hash.hex() for n in affected for log in self._logs[n]}
        dropped = in_window if drop_tx_hashes is None else {h.lower() for h in drop_tx_hashes} & in_window
        for number in range(first, self._head + 1):
            self._generation[number] = self._generation.get(number, 0) + 1
        for number in affected:
            kept = [log for log in self._logs[number] if "0x" + log.transaction_hash.hex() not in dropped]
            tx_index: dict[bytes, int] = {}
            for log_index, log in enumerate(kept):
                log.log_index = log_index
                log.transaction_index = tx_index.setdefault(log.transaction_hash, len(tx_index))
            self._tx_in_block[number] = len(tx_index)
            if kept:
                self._logs[number] = kept
            else:
                del self._logs[number]
                self._blocks_with_logs.remove(number)
        # The contract state is not rewound: reorgs are for the ETL's tests, after the simulation.
        return sorted(dropped)

    # ------------------------------------------------------------------ transactions
    def _transaction(self, at: int, events: list[tuple[str, dict[str, Any]]]) -> str:
        number = max(self.block_for_time(at), self._head)
        self._head = number
        self._tx_count += 1
        tx_hash = bytes(keccak(self._salt + b":tx:" + self._tx_count.to_bytes(8, "big")))
        logs = self._logs.get(number)
        if logs is None:
            logs = self._logs[number] = []
            self._blocks_with_logs.append(number)
        tx_index = self._tx_in_block.get(number, 0)
        self._tx_in_block[number] = tx_index + 1
        for name, args in events:
            topics, data = self._encoders[name].encode(args)
            logs.append(_Log(number, tx_index, len(logs), tx_hash, topics, data))
        return "0x" + tx_hash.hex()

    def _owner_of(self, token_id: int) -> str:
        holder = self._owners.get(token_id)
        if holder is None:
            raise SyntheticChainError(f"UnknownToken({token_id})")
        return holder

    def _credit(self, account: str, amount: int) -> None:
        self.pending_withdrawals[account] = self.pending_withdrawals.get(account, 0) + amount

    def _move(self, holder: str, to: str, token_id: int, events: list[tuple[str, dict[str, Any]]]) -> None:
        if self._listing.pop(token_id, None) is not None:
            events.append(("Delisted", {"tokenId": token_id, "seller": holder}))
        self._owners[token_id] = to
        events.append(("Transfer", {"from": holder, "to": to, "tokenId": token_id}))

    def create_event(self, event_id: int, capacity: int, face_value_wei: int, *, at: int) -> str:
        if event_id in self._events:
            raise SyntheticChainError(f"EventExists({event_id})")
        if capacity <= 0:
            raise SyntheticChainError("ZeroCapacity()")
        self._events[event_id] = _Event(self.organizer, capacity, 0, face_value_wei)
        return self._transaction(
            at,
            [
                (
                    "EventCreated",
                    {
                        "eventId": event_id,
                        "capacity": capacity,
                        "faceValueWei": face_value_wei,
                        "organizer": self.organizer,
                    },
                )
            ],
        )

    def mint_batch(
        self, event_id: int, first_token_id: int, count: int, *, to: str | None = None, at: int
    ) -> list[str]:
        info = self._events.get(event_id)
        if info is None:
            raise SyntheticChainError(f"UnknownEvent({event_id})")
        if info.minted + count > info.capacity:
            raise SyntheticChainError(f"CapacityExceeded({event_id}, {info.capacity})")
        holder = (to or self.organizer).lower()
        hashes = []
        for offset in range(0, count, MINT_BATCH_MAX):
            events: list[tuple[str, dict[str, Any]]] = []
            for token_id in range(
                first_token_id + offset, first_token_id + min(count, offset + MINT_BATCH_MAX)
            ):
                if token_id in self._owners:
                    raise SyntheticChainError(f"TokenExists({token_id})")
                self._owners[token_id] = holder
                self._event_of[token_id] = event_id
                events.append(("Transfer", {"from": "0x" + "00" * 20, "to": holder, "tokenId": token_id}))
                events.append(("TicketMinted", {"tokenId": token_id, "eventId": event_id, "to": holder}))
            hashes.append(self._transaction(at, events))
        info.minted += count
        return hashes

    def buy_primary_for(self, token_id: int, buyer: str, price_wei: int, *, at: int) -> str:
        buyer = buyer.lower()
        holder = self._owner_of(token_id)
        if token_id in self._primary_sold:
            raise SyntheticChainError(f"AlreadySold({token_id})")
        event_id = self._event_of[token_id]
        info = self._events[event_id]
        if holder != info.organizer:
            raise SyntheticChainError(f"NotForPrimarySale({token_id})")
        if price_wei != info.face_value_wei:
            raise SyntheticChainError(f"WrongPayment({info.face_value_wei}, {price_wei})")
        if buyer == holder:
            raise SyntheticChainError("BuyerIsSeller()")
        fee = price_wei * self.primary_fee_bps // 10_000
        self._primary_sold.add(token_id)
        self._credit(holder, price_wei - fee)
        self._credit(self.fee_recipient, fee)
        events: list[tuple[str, dict[str, Any]]] = []
        self._move(holder, buyer, token_id, events)
        events.append(
            ("PrimarySale", {"tokenId": token_id, "eventId": event_id, "buyer": buyer, "priceWei": price_wei})
        )
        return self._transaction(at, events)

    def list_for(self, token_id: int, price_wei: int, *, at: int) -> str:
        holder = self._owner_of(token_id)
        if price_wei <= 0:
            raise SyntheticChainError("ZeroPrice()")
        if token_id in self._listing:
            raise SyntheticChainError(f"AlreadyListed({token_id})")
        if token_id not in self._primary_sold:
            raise SyntheticChainError(f"NotForPrimarySale({token_id})")
        self._listing[token_id] = price_wei
        return self._transaction(
            at, [("Listed", {"tokenId": token_id, "seller": holder, "priceWei": price_wei})]
        )

    def delist_for(self, token_id: int, *, at: int) -> str:
        holder = self._owner_of(token_id)
        if self._listing.pop(token_id, None) is None:
            raise SyntheticChainError(f"NotListed({token_id})")
        return self._transaction(at, [("Delisted", {"tokenId": token_id, "seller": holder})])

    def buy_resale_for(self, token_id: int, buyer: str, price_wei: int, *, at: int) -> str:
        buyer = buyer.lower()
        listed = self._listing.get(token_id)
        if listed is None:
            raise SyntheticChainError(f"NotListed({token_id})")
        if price_wei != listed:
            raise SyntheticChainError(f"WrongPayment({listed}, {price_wei})")
        seller = self._owner_of(token_id)
        if buyer == seller:
            raise SyntheticChainError("BuyerIsSeller()")
        fee = price_wei * self.resale_fee_bps // 10_000
        del self._listing[token_id]
        self._credit(seller, price_wei - fee)
        self._credit(self.fee_recipient, fee)
        events: list[tuple[str, dict[str, Any]]] = []
        self._move(seller, buyer, token_id, events)
        events.append(
            ("Resale", {"tokenId": token_id, "seller": seller, "buyer": buyer, "priceWei": price_wei})
        )
        return self._transaction(at, events)

    # ------------------------------------------------------------------ views (as the contract's)
    def owner_of(self, token_id: int) -> str:
        return self._owner_of(token_id)

    def listing_price(self, token_id: int) -> int:
        return self._listing.get(token_id, 0)

    def pending_withdrawal(self, account: str) -> int:
        return self.pending_withdrawals.get(account.lower(), 0)

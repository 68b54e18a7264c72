"""A local EVM (eth-tester + py-evm) and a thin typed client for the TicketMarket contract.

Block times follow the simulated clock: `set_next_block_timestamp` moves the pending block's
timestamp (eth-tester's own `time_travel` refuses to start in the past, and a simulation that ends
"now" starts days ago), so on-chain times and backend times describe the same moments.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_utils import function_abi_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError

from shared.chain.artifacts import ContractArtifact, load_artifact
from shared.chain.units import MINT_BATCH_MAX, PRIMARY_FEE_BPS, RESALE_FEE_BPS
from shared.errors import TicketGuardError

DEFAULT_GAS_LIMIT = 30_000_000
_TX_GAS = 400_000
_BYTES_REPR = re.compile(r"b'(?:[^'\\]|\\.)*'")


class ChainTransactionFailed(TicketGuardError):
    """A transaction reverted; `error_name` is the contract's custom error when it has one."""

    code = "chain_transaction_failed"

    def __init__(self, message: str, *, error_name: str | None = None, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.error_name = error_name
        self.tx_hash = tx_hash


def local_chain(genesis_timestamp: int | None = None, *, gas_limit: int = DEFAULT_GAS_LIMIT) -> Web3:
    """A fresh in-process EVM with ten funded accounts; `genesis_timestamp` lets a simulation
    start in the past (block times must only increase)."""
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider

    overrides: dict[str, Any] = {"gas_limit": gas_limit}
    if genesis_timestamp is not None:
        overrides["timestamp"] = int(genesis_timestamp)
    backend = PyEVMBackend(genesis_parameters=PyEVMBackend.generate_genesis_params(overrides=overrides))
    if genesis_timestamp is not None:
        # The pending block was created with the wall clock; pull it back to the simulated clock.
        _set_pending_timestamp(backend, int(genesis_timestamp) + 1)
    return Web3(EthereumTesterProvider(EthereumTester(backend)))


def _backend(w3: Web3) -> Any:
    provider = cast(Any, w3.provider)
    tester = getattr(provider, "ethereum_tester", None)
    if tester is None:
        raise TypeError("block timestamps can only be set on a local_chain() (EthereumTesterProvider)")
    return tester.backend


def _set_pending_timestamp(backend: Any, timestamp: int) -> None:
    backend.chain.header = backend.chain.header.copy(timestamp=timestamp)


def set_next_block_timestamp(w3: Web3, timestamp: int) -> int:
    """The next mined block gets `timestamp`, or one second after the latest block when the
    simulated clock has not moved past it (two transactions in the same second). Returns it."""
    backend = _backend(w3)
    latest = backend.chain.get_canonical_head().timestamp
    effective = max(int(timestamp), latest + 1)
    _set_pending_timestamp(backend, effective)
    return effective


def transaction_succeeded(w3: Web3, tx_hash: bytes) -> bool:
    """Whether a mined transaction succeeded. On a local_chain() the receipt is read from the head
    block (eth-tester's eth_getTransactionReceipt scans the whole chain for the hash)."""
    tester = getattr(w3.provider, "ethereum_tester", None)
    if tester is not None:
        chain = tester.backend.chain
        block = chain.get_canonical_block_by_number(chain.get_canonical_head().block_number)
        for tx, receipt in zip(block.transactions, block.get_receipts(chain.chaindb), strict=True):
            if tx.hash == bytes(tx_hash):
                return bool(receipt.state_root == b"\x01")
    return int(w3.eth.get_transaction_receipt(cast(Any, tx_hash))["status"]) == 1


def _error_selectors(abi: Sequence[dict[str, Any]]) -> dict[str, str]:
    return {
        "0x" + function_abi_to_4byte_selector(cast(Any, item)).hex(): item["name"]
        for item in abi
        if item.get("type") == "error"
    }


def decode_revert(abi: Sequence[dict[str, Any]], data: Any) -> str | None:
    """The custom error's name for revert data (0x + 4-byte selector + args), else None."""
    if data is None:
        return None
    text = data if isinstance(data, str) else HexBytes(data).to_0x_hex()
    return _error_selectors(abi).get(text[:10].lower())


def _revert_from_chain(abi: Sequence[dict[str, Any]], exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:
        data = seen.args[0] if seen.args else None
        if isinstance(data, str):
            # eth-tester puts the revert bytes' repr in its message: "execution reverted: b'...'".
            match = _BYTES_REPR.search(data)
            data = ast.literal_eval(match.group(0)) if match else None
        if isinstance(data, bytes | bytearray) and len(data) >= 4:
            return decode_revert(abi, bytes(data)) or f"revert 0x{bytes(data).hex()}"
        seen = seen.__cause__ or seen.__context__
    return str(exc)


def revert_reason(abi: Sequence[dict[str, Any]], exc: BaseException) -> str | None:
    """The custom error name carried by an exception from a reverted eth_call / estimate."""
    if isinstance(exc, ContractCustomError):
        return decode_revert(abi, exc.data)
    return _revert_from_chain(abi, exc)


def deploy_artifact(w3: Web3, artifact: ContractArtifact, *args: Any, sender: str) -> Contract:
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx_hash = factory.constructor(*args).transact({"from": sender, "gas": 6_000_000})
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    if receipt["status"] != 1 or receipt["contractAddress"] is None:
        raise ChainTransactionFailed(f"deploying {artifact.name} failed", tx_hash=tx_hash.to_0x_hex())
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


@dataclass(frozen=True)
class Roles:
    owner: str
    organizer: str
    operator: str
    fee_recipient: str


class TicketMarketClient:
    """The contract calls the simulator and the tests use. Every state-changing method returns the
    transaction hash (0x, lowercase) and raises ChainTransactionFailed when the transaction reverts.
    `at` (unix seconds) sets the block time of that transaction."""

    def __init__(self, w3: Web3, contract: Contract, roles: Roles) -> None:
        self.w3 = w3
        self.contract = contract
        self.roles = roles
        self.address = contract.address.lower()
        self._abi = cast(list[dict[str, Any]], contract.abi)

    # ------------------------------------------------------------------ low level
    def transact(
        self,
        function: str,
        *args: Any,
        sender: str,
        value: int = 0,
        at: int | None = None,
        gas: int = _TX_GAS,
    ) -> str:
        if at is not None:
            set_next_block_timestamp(self.w3, at)
        call = getattr(self.contract.functions, function)(*args)
        params: dict[str, Any] = {"from": to_checksum_address(sender), "value": value, "gas": gas}
        tx_hash = call.transact(cast(Any, params))
        if not transaction_succeeded(self.w3, tx_hash):
            reason = self._replay_reason(call, params)
            raise ChainTransactionFailed(
                f"{function}{args} reverted: {reason or 'no reason given'}",
                error_name=reason,
                tx_hash=tx_hash.to_0x_hex(),
            )
        return tx_hash.to_0x_hex().lower()

    def _replay_reason(self, call: Any, params: dict[str, Any]) -> str | None:
        """eth-tester mines a reverted transaction without its revert data; replaying the call on the
        unchanged state (a reverted transaction changes nothing but the nonce) gives it back."""
        try:
            call.call({k: v for k, v in params.items() if k != "gas"})
        except ContractCustomError as exc:
            return decode_revert(self._abi, exc.data)
        except ContractLogicError as exc:
            return str(exc.message or exc)
        except Exception as exc:
            # eth-tester raises its own TransactionFailed; the revert bytes are in the exception chain.
            return _revert_from_chain(self._abi, exc)
        return None

    # ------------------------------------------------------------------ organizer
    def create_event(
        self, event_id: int, capacity: int, face_value_wei: int, *, at: int | None = None
    ) -> str:
        return self.transact(
            "createEvent", event_id, capacity, face_value_wei, sender=self.roles.organizer, at=at
        )

    def mint_batch(
        self, event_id: int, first_token_id: int, count: int, *, to: str | None = None, at: int | None = None
    ) -> list[str]:
        """Mints `count` tickets to `to` (the organizer's inventory by default), in as many
        transactions of at most MINT_BATCH_MAX as needed."""
        holder = to_checksum_address(to or self.roles.organizer)
        hashes = []
        for offset in range(0, count, MINT_BATCH_MAX):
            size = min(MINT_BATCH_MAX, count - offset)
            hashes.append(
                self.transact(
                    "mintBatch",
                    event_id,
                    first_token_id + offset,
                    size,
                    holder,
                    sender=self.roles.organizer,
                    at=at,
                    gas=60_000 + 62_000 * size,
                )
            )
        return hashes

    # ------------------------------------------------------------------ operator (custodial relayer)
    def buy_primary_for(self, token_id: int, buyer: str, price_wei: int, *, at: int | None = None) -> str:
        return self.transact(
            "buyPrimaryFor",
            token_id,
            to_checksum_address(buyer),
            sender=self.roles.operator,
            value=price_wei,
            at=at,
        )

    def list_for(self, token_id: int, price_wei: int, *, at: int | None = None) -> str:
        return self.transact("listFor", token_id, price_wei, sender=self.roles.operator, at=at)

    def delist_for(self, token_id: int, *, at: int | None = None) -> str:
        return self.transact("delist", token_id, sender=self.roles.operator, at=at)

    def buy_resale_for(self, token_id: int, buyer: str, price_wei: int, *, at: int | None = None) -> str:
        return self.transact(
            "buyResaleFor",
            token_id,
            to_checksum_address(buyer),
            sender=self.roles.operator,
            value=price_wei,
            at=at,
        )

    # ------------------------------------------------------------------ views
    def owner_of(self, token_id: int) -> str:
        return str(self.contract.functions.ownerOf(token_id).call()).lower()

    def balance_of(self, holder: str) -> int:
        return int(self.contract.functions.balanceOf(to_checksum_address(holder)).call())

    def listing_price(self, token_id: int) -> int:
        return int(self.contract.functions.listingPrice(token_id).call())

    def pending_withdrawal(self, account: str) -> int:
        return int(self.contract.functions.pendingWithdrawals(to_checksum_address(account)).call())

    def primary_sold(self, token_id: int) -> bool:
        return bool(self.contract.functions.primarySold(token_id).call())


def deploy(
    w3: Web3,
    *,
    primary_fee_bps: int = PRIMARY_FEE_BPS,
    resale_fee_bps: int = RESALE_FEE_BPS,
    roles: Roles | None = None,
    at: int | None = None,
) -> TicketMarketClient:
    """Deploys TicketMarket and appoints the organizer and the operator. Default roles on a
    local_chain(): accounts[0] owner, [1] organizer, [2] operator (relayer), [3] fee recipient."""
    if roles is None:
        accounts = list(w3.eth.accounts)
        roles = Roles(
            owner=accounts[0], organizer=accounts[1], operator=accounts[2], fee_recipient=accounts[3]
        )
    if at is not None:
        set_next_block_timestamp(w3, at)
    contract = deploy_artifact(
        w3,
        load_artifact("TicketMarket"),
        to_checksum_address(roles.fee_recipient),
        primary_fee_bps,
        resale_fee_bps,
        sender=roles.owner,
    )
    client = TicketMarketClient(w3, contract, roles)
    client.transact("setOrganizer", to_checksum_address(roles.organizer), True, sender=roles.owner, at=at)
    client.transact("setOperator", to_checksum_address(roles.operator), True, sender=roles.owner, at=at)
    return client

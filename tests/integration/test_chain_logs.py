"""The two LogSources: synthetic logs decode exactly like the EVM's for the same calls; reorgs."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import event_abi_to_log_topic
from web3 import Web3

from shared.chain.evm import TicketMarketClient, deploy, local_chain
from shared.chain.source import LOG_KEYS, Web3LogSource
from shared.chain.synthetic import SyntheticChain, SyntheticChainError
from shared.chain.units import usd_to_wei

T0 = 1_780_000_000
BUYER, SECOND, THIRD = "0x" + "ab" * 20, "0x" + "cd" * 20, "0x" + "ef" * 20


def _same_sales(market: Any) -> None:
    """One script of contract calls, played on either chain."""
    market.create_event(7, 10, usd_to_wei(50), at=T0 + 100)
    market.create_event(8, 3, usd_to_wei("120.5"), at=T0 + 150)
    market.mint_batch(7, 100, 10, at=T0 + 200)
    market.mint_batch(8, 200, 3, at=T0 + 210)
    market.buy_primary_for(101, BUYER, usd_to_wei(50), at=T0 + 300)
    market.buy_primary_for(200, SECOND, usd_to_wei("120.5"), at=T0 + 310)
    market.list_for(101, usd_to_wei(80), at=T0 + 400)
    market.buy_resale_for(101, SECOND, usd_to_wei(80), at=T0 + 500)
    market.list_for(101, usd_to_wei("95.25"), at=T0 + 600)
    market.delist_for(101, at=T0 + 700)
    market.list_for(200, usd_to_wei(150), at=T0 + 800)
    market.buy_resale_for(200, THIRD, usd_to_wei(150), at=T0 + 900)


@pytest.fixture
def both(contract_artifacts: Any) -> tuple[TicketMarketClient, SyntheticChain]:
    w3 = local_chain(T0)
    evm = deploy(w3, at=T0 + 10)
    synthetic = SyntheticChain(
        contract_address=evm.address,
        genesis_timestamp=T0,
        organizer=evm.roles.organizer,
        fee_recipient=evm.roles.fee_recipient,
    )
    _same_sales(evm)
    _same_sales(synthetic)
    return evm, synthetic


def _decode(contract: Any, logs: Any) -> list[tuple[str, dict[str, Any]]]:
    by_topic = {
        event_abi_to_log_topic(item): item["name"] for item in contract.abi if item["type"] == "event"
    }
    out = []
    for log in logs:
        name = by_topic[bytes(log["topics"][0])]
        decoded = getattr(contract.events, name)().process_log(log)
        out.append((decoded["event"], dict(decoded["args"])))
    return out


def test_synthetic_logs_decode_exactly_like_the_evms(both: tuple[TicketMarketClient, SyntheticChain]) -> None:
    # Given the same sales played on the EVM and on the synthetic chain
    evm, synthetic = both
    real = Web3LogSource(evm.w3).get_logs(0, evm.w3.eth.block_number, evm.address)
    fake = synthetic.get_logs(0, synthetic.latest_block(), evm.address)
    # When both are decoded with web3's ABI decoder
    # Then they are the same events with the same arguments, in the same order
    # 2 events, 13 mints x (Transfer, TicketMinted), 2 x (Transfer, PrimarySale), 3 Listed, 1 Delisted,
    # 2 x (Transfer, Resale)
    assert len(real) == len(fake) == 2 + 26 + 4 + 3 + 1 + 4
    assert _decode(evm.contract, real) == _decode(evm.contract, fake)
    # And the raw topics and data are byte-identical, with exactly eth_getLogs' keys and types
    for r, f in zip(real, fake, strict=True):
        assert list(r["topics"]) == list(f["topics"]) and r["data"] == f["data"]
        assert tuple(r.keys()) == tuple(f.keys()) == LOG_KEYS
        assert {k: type(r[k]) for k in LOG_KEYS} == {k: type(f[k]) for k in LOG_KEYS}
        assert r["address"] == f["address"] == Web3.to_checksum_address(evm.address)


def test_synthetic_blocks_are_consistent(both: tuple[TicketMarketClient, SyntheticChain]) -> None:
    _, synthetic = both
    logs = synthetic.get_logs(0, synthetic.latest_block(), synthetic.address)
    for log in logs:
        block = synthetic.block(log["blockNumber"])
        assert block.hash == "0x" + bytes(log["blockHash"]).hex()
        assert block.timestamp >= T0
    # log indexes count up within a block; a later block has a later time
    numbers = [log["blockNumber"] for log in logs]
    assert numbers == sorted(numbers)
    times = [synthetic.block(n).timestamp for n in numbers]
    assert times == sorted(times)
    # the mint of event 8 (timestamp T0+210) lands in the first block at or after T0+210
    assert synthetic.block(synthetic.block_for_time(T0 + 210)).timestamp >= T0 + 210


def test_synthetic_chain_refuses_what_the_contract_would(
    both: tuple[TicketMarketClient, SyntheticChain],
) -> None:
    _, synthetic = both
    with pytest.raises(SyntheticChainError, match="AlreadySold"):
        synthetic.buy_primary_for(101, THIRD, usd_to_wei(50), at=T0 + 1000)
    with pytest.raises(SyntheticChainError, match="NotListed"):
        synthetic.buy_resale_for(101, THIRD, usd_to_wei(80), at=T0 + 1000)
    with pytest.raises(SyntheticChainError, match="WrongPayment"):
        synthetic.buy_primary_for(102, THIRD, usd_to_wei(49), at=T0 + 1000)
    assert synthetic.pending_withdrawal(SECOND) == usd_to_wei(150) - usd_to_wei(150) // 10


def test_synthetic_reorg_replaces_the_last_blocks(both: tuple[TicketMarketClient, SyntheticChain]) -> None:
    # Given a synthetic chain and what it served before
    _, synthetic = both
    head = synthetic.latest_block()
    before = {n: synthetic.block(n).hash for n in range(head - 5, head + 1)}
    logs_before = synthetic.get_logs(0, head, synthetic.address)
    last_tx = "0x" + bytes(logs_before[-1]["transactionHash"]).hex()
    # When the last 3 blocks are replaced
    dropped = synthetic.reorg(3)
    # Then their hashes change, older ones do not, and the transactions in them are gone
    assert dropped == [last_tx]
    assert all(synthetic.block(n).hash != before[n] for n in range(head - 2, head + 1))
    assert all(synthetic.block(n).hash == before[n] for n in range(head - 5, head - 2))
    after = synthetic.get_logs(0, head, synthetic.address)
    assert len(after) == len(logs_before) - 2  # that resale's Transfer and Resale
    assert all("0x" + bytes(log["transactionHash"]).hex() != last_tx for log in after)


def test_evm_snapshot_and_revert_is_a_reorg(contract_artifacts: Any) -> None:
    # Given an EVM with a sale mined after a snapshot
    w3 = local_chain(T0)
    evm = deploy(w3, at=T0 + 10)
    evm.create_event(1, 5, usd_to_wei(10), at=T0 + 20)
    evm.mint_batch(1, 1, 5, at=T0 + 30)
    snapshot = w3.testing.snapshot()  # type: ignore[attr-defined]
    evm.buy_primary_for(1, BUYER, usd_to_wei(10), at=T0 + 40)
    source = Web3LogSource(w3)
    head = source.latest_block()
    old_hash = source.block(head).hash
    # When the chain reverts and another history is mined at the same height
    w3.testing.revert(snapshot)  # type: ignore[attr-defined]
    evm.buy_primary_for(2, SECOND, usd_to_wei(10), at=T0 + 41)
    # Then the block at that height has another hash and the first sale's logs are gone
    assert source.latest_block() == head
    assert source.block(head).hash != old_hash
    tokens = [int.from_bytes(log["topics"][3], "big") for log in source.get_logs(head, head, evm.address)]
    assert tokens[:1] == [2]
    assert evm.owner_of(1) == evm.roles.organizer.lower()


def test_direct_reading_of_the_local_evm_equals_eth_get_logs(
    both: tuple[TicketMarketClient, SyntheticChain],
) -> None:
    # Given the local EVM read two ways: py-evm's blocks directly, and eth_getLogs through web3
    evm, _ = both
    head = evm.w3.eth.block_number
    direct = Web3LogSource(evm.w3).get_logs(0, head, evm.address)
    rpc = Web3LogSource(evm.w3, direct=False).get_logs(0, head, evm.address)
    # Then they are the same logs, and a block range is honoured the same way
    assert direct == rpc and len(direct) == 40
    assert Web3LogSource(evm.w3).get_logs(5, 8, evm.address) == Web3LogSource(evm.w3, direct=False).get_logs(
        5, 8, evm.address
    )
    assert Web3LogSource(evm.w3).get_logs(0, head, "0x" + "99" * 20) == []

"""A real reorganisation on the embedded EVM (eth-tester snapshot/revert, then a different
branch mined at the same heights), read through Web3LogSource like a node."""

from __future__ import annotations

from typing import Any

import psycopg

from shared.chain.source import Web3LogSource
from shared.etl.chain import sync_chain
from tests.fixtures.etl import address

WEI = 10**15


def _setup(evm: Any) -> tuple[Web3LogSource, str]:
    evm.create_event(1, 10, 50 * WEI)
    evm.mint_batch(1, 100, 4)
    evm.buy_primary_for(100, address(1), 50 * WEI)
    return Web3LogSource(evm.w3), evm.contract.address.lower()


def _tx_hashes(db: psycopg.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT DISTINCT tx_hash FROM intel.chain_events")}


def _assert_matches_chain(db: psycopg.Connection, source: Web3LogSource) -> None:
    for number, block_hash in db.execute("SELECT DISTINCT block_number, block_hash FROM intel.chain_events"):
        assert source.block(number).hash == block_hash


def test_evm_reorg_inside_the_unconfirmed_window(db: psycopg.Connection, evm: Any) -> None:
    # Given a sale at the head and 3 confirmations required
    source, contract = _setup(evm)
    snapshot = evm.w3.testing.snapshot()
    orphan = evm.buy_primary_for(101, address(2), 50 * WEI)
    sync_chain(db, source, contract, confirmations=3)
    assert orphan not in _tx_hashes(db)
    # When the chain reorganises: the orphan's block is replaced by a branch with another sale
    evm.w3.testing.revert(snapshot)
    winner = evm.buy_primary_for(102, address(3), 50 * WEI)
    evm.w3.testing.mine(4)
    sync_chain(db, source, contract, confirmations=3)
    # Then the winning sale is loaded, the orphan never was, and every stored hash is on the chain
    hashes = _tx_hashes(db)
    assert winner in hashes and orphan not in hashes
    _assert_matches_chain(db, source)


def test_evm_reorg_of_loaded_blocks_is_rolled_back(db: psycopg.Connection, evm: Any) -> None:
    # Given a sale loaded with 0 confirmations
    source, contract = _setup(evm)
    snapshot = evm.w3.testing.snapshot()
    orphan = evm.buy_primary_for(101, address(2), 50 * WEI)
    sync_chain(db, source, contract, confirmations=0)
    assert orphan in _tx_hashes(db)
    # When the chain reorganises past it
    evm.w3.testing.revert(snapshot)
    winner = evm.buy_primary_for(102, address(3), 50 * WEI)
    evm.w3.testing.mine(2)
    stats = sync_chain(db, source, contract, confirmations=0)
    # Then the orphan's rows (and the buyer's first-seen time) are gone, the winner's are in
    hashes = _tx_hashes(db)
    assert stats.rolled_back_blocks > 0
    assert orphan not in hashes and winner in hashes
    _assert_matches_chain(db, source)
    first_seen = db.execute(
        "SELECT first_seen_at FROM intel.wallets WHERE address = %s", (address(2),)
    ).fetchone()
    assert first_seen == (None,)

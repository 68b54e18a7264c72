"""Chain extraction: incremental from a checkpoint, confirmations, reorgs, crash-and-rerun, rejects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from hexbytes import HexBytes
from web3.datastructures import AttributeDict

from shared.chain.synthetic import SyntheticChain
from shared.etl.chain import checkpoint_job, sync_chain
from shared.etl.load import read_checkpoint
from tests.fixtures.etl import CONTRACT, ORGANIZER, T0, address, new_chain

WEI = 10**15  # 1 USD


def _ts(hours: float) -> int:
    return int((T0 + timedelta(hours=hours)).timestamp())


def _sell_three(chain: SyntheticChain, start_hours: float = 0) -> None:
    chain.create_event(1, 10, 50 * WEI, at=_ts(start_hours))
    chain.mint_batch(1, 100, 3, at=_ts(start_hours + 0.1))
    chain.buy_primary_for(100, address(1), 50 * WEI, at=_ts(start_hours + 1))
    chain.buy_primary_for(101, address(2), 50 * WEI, at=_ts(start_hours + 2))


def _keys(db: psycopg.Connection) -> set[tuple[int, str, int]]:
    return set(db.execute("SELECT block_number, tx_hash, log_index FROM intel.chain_events").fetchall())


def _all_chain_keys(chain: SyntheticChain, up_to: int) -> set[tuple[int, str, int]]:
    return {
        (int(log["blockNumber"]), "0x" + bytes(log["transactionHash"]).hex(), int(log["logIndex"]))
        for log in chain.get_logs(0, up_to, CONTRACT)
    }


def test_incremental_extraction_loads_only_confirmed_blocks_and_continues_from_checkpoint(
    db: psycopg.Connection,
) -> None:
    # Given a chain with an event, three mints and two sales, the last sale in the head block
    chain = new_chain()
    _sell_three(chain)
    head = chain.latest_block()
    # When the extractor runs with 3 confirmations
    first = sync_chain(db, chain, CONTRACT, confirmations=3)
    # Then it stopped at head - 3: the last sale (in the head block) is not loaded yet
    assert first.to_block == head - 3
    assert _keys(db) == _all_chain_keys(chain, head - 3)
    names = dict(db.execute("SELECT event_name, count(*) FROM intel.chain_events GROUP BY 1").fetchall())
    assert names == {"EventCreated": 1, "Transfer": 4, "TicketMinted": 3, "PrimarySale": 1}
    assert read_checkpoint(db, checkpoint_job(CONTRACT)) == {
        "block": head - 3,
        "hash": chain.block(head - 3).hash,
    }

    # When more blocks arrive and it runs again
    chain.buy_primary_for(102, address(3), 50 * WEI, at=_ts(3))
    chain.advance_to(_ts(4))
    second = sync_chain(db, chain, CONTRACT, confirmations=3)
    # Then it read only blocks after the checkpoint and now holds every confirmed log, once
    assert second.from_block == head - 2
    assert _keys(db) == _all_chain_keys(chain, chain.latest_block() - 3)
    assert db.execute(
        "SELECT count(*) FROM intel.chain_events WHERE event_name = 'PrimarySale'"
    ).fetchone() == (3,)

    # When it runs a third time with nothing new
    third = sync_chain(db, chain, CONTRACT, confirmations=3)
    # Then nothing is read or written
    assert third.batches == 0 and third.rows_loaded == 0


def test_decoded_columns_first_seen_and_hold_times(db: psycopg.Connection) -> None:
    # Given wallet 1 buys ticket 100 at +1h, lists it and resells it to wallet 2 at +5h
    chain = new_chain()
    _sell_three(chain)
    chain.list_for(100, 80 * WEI, at=_ts(4))
    chain.buy_resale_for(100, address(2), 80 * WEI, at=_ts(5))
    chain.advance_to(_ts(6))
    # When the chain is extracted
    sync_chain(db, chain, CONTRACT, confirmations=0)
    # Then the decoded columns are right
    resale = db.execute(
        "SELECT token_id, from_address, to_address, price_wei, args->>'priceWei' FROM intel.chain_events "
        "WHERE event_name = 'Resale'"
    ).fetchone()
    assert resale == (100, address(1), address(2), 80 * WEI, str(80 * WEI))
    created = db.execute(
        "SELECT chain_event_id, args FROM intel.chain_events WHERE event_name = 'EventCreated'"
    ).fetchone()
    assert created is not None and created[0] == 1 and created[1]["capacity"] == "10"
    # And wallet first-seen comes from the first Transfer in or out
    first_seen = dict(db.execute("SELECT address, first_seen_at FROM intel.wallets").fetchall())
    assert first_seen[address(1)] == chain_time(chain, _ts(1))
    assert first_seen[address(2)] == chain_time(chain, _ts(2))
    # And wallet 1 held ticket 100 from its purchase (+1h block) to the resale (+5h block)
    hold = db.execute(
        "SELECT holder, hold_hours FROM intel.ticket_holds WHERE holder <> %s", (ORGANIZER,)
    ).fetchall()
    expected = (chain_time(chain, _ts(5)) - chain_time(chain, _ts(1))).total_seconds() / 3600
    assert hold == [(address(1), pytest.approx(expected))]


def chain_time(chain: SyntheticChain, at: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(chain.block(chain.block_for_time(at)).timestamp, tz=UTC)


def test_reorg_inside_unconfirmed_window_leaves_no_stale_rows(db: psycopg.Connection) -> None:
    # Given a chain whose last sale sits inside the 3-block unconfirmed window, extracted once
    chain = new_chain()
    _sell_three(chain)
    sync_chain(db, chain, CONTRACT, confirmations=3)
    # When the last 2 blocks are replaced by a branch without that sale, and the chain grows
    dropped = chain.reorg(2)
    assert dropped
    chain.buy_primary_for(102, address(3), 50 * WEI, at=_ts(3))
    chain.advance_to(_ts(4))
    sync_chain(db, chain, CONTRACT, confirmations=3)
    # Then no row of the orphaned branch is loaded and every loaded block hash is on the chain
    tx_hashes = {row[0] for row in db.execute("SELECT tx_hash FROM intel.chain_events")}
    assert tx_hashes.isdisjoint(dropped)
    for number, block_hash in db.execute("SELECT DISTINCT block_number, block_hash FROM intel.chain_events"):
        assert chain.block(number).hash == block_hash
    assert _keys(db) == _all_chain_keys(chain, chain.latest_block() - 3)


def test_reorg_deeper_than_confirmations_is_rolled_back_and_reloaded(db: psycopg.Connection) -> None:
    # Given everything up to the head is loaded with 0 confirmations
    chain = new_chain()
    _sell_three(chain)
    chain.list_for(100, 70 * WEI, at=_ts(2.5))
    chain.buy_resale_for(100, address(3), 70 * WEI, at=_ts(3))
    sync_chain(db, chain, CONTRACT, confirmations=0)
    resold = "SELECT count(*) FROM intel.ticket_holds WHERE holder = %s"
    assert db.execute(resold, (address(1),)).fetchone() == (1,)
    # When a reorg replaces the blocks of the resale (already loaded)
    dropped = chain.reorg(chain.latest_block() - chain.block_for_time(_ts(2.5)) + 1)
    stats = sync_chain(db, chain, CONTRACT, confirmations=0)
    # Then the stale rows and what derives from them are gone, and the tables match the chain
    assert stats.rolled_back_blocks > 0
    assert {r[0] for r in db.execute("SELECT tx_hash FROM intel.chain_events")}.isdisjoint(dropped)
    assert _keys(db) == _all_chain_keys(chain, chain.latest_block())
    assert db.execute(resold, (address(1),)).fetchone() == (0,)
    assert db.execute(
        "SELECT first_seen_at FROM intel.wallets WHERE address = %s", (address(3),)
    ).fetchone() == (None,)


class _Crash(RuntimeError):
    pass


def test_crash_between_batches_then_rerun_gives_exactly_one_clean_run(db: psycopg.Connection) -> None:
    # Given a chain with activity spread over many blocks
    chain = new_chain(T0 - timedelta(hours=1), block_time_s=600)
    _sell_three(chain)
    for n, token in enumerate(range(103, 108)):
        chain.mint_batch(1, token, 1, at=_ts(3 + n))
    chain.advance_to(_ts(10))
    batches: list[int] = []

    def crash_midway(block: int) -> None:
        batches.append(block)
        if block >= chain.block_for_time(_ts(4)):
            raise _Crash

    # When the run dies after a committed batch halfway through the logs
    with pytest.raises(_Crash):
        sync_chain(db, chain, CONTRACT, confirmations=0, batch_blocks=3, after_batch=crash_midway)
    partial = _keys(db)
    assert 0 < len(partial) < len(_all_chain_keys(chain, chain.latest_block()))
    # And it is run again
    sync_chain(db, chain, CONTRACT, confirmations=0, batch_blocks=3)
    # Then the tables hold every log exactly once
    assert _keys(db) == _all_chain_keys(chain, chain.latest_block())
    total = db.execute("SELECT count(*) FROM intel.chain_events").fetchone()
    assert total == (len(_all_chain_keys(chain, chain.latest_block())),)


class _WithBadLogs:
    """The synthetic chain plus a few logs no honest TicketMarket would emit."""

    def __init__(self, chain: SyntheticChain, bad: list[dict[str, Any]]) -> None:
        self.chain, self.bad = chain, bad

    def latest_block(self) -> int:
        return self.chain.latest_block()

    def block(self, number: int) -> Any:
        return self.chain.block(number)

    def get_logs(self, from_block: int, to_block: int, address: str) -> Sequence[dict[str, Any]]:
        extra = [log for log in self.bad if from_block <= log["blockNumber"] <= to_block]
        return [*self.chain.get_logs(from_block, to_block, address), *extra]


def test_bad_logs_are_rejected_with_reasons_and_not_loaded(db: psycopg.Connection) -> None:
    # Given a chain and three bad logs in block 1: an unknown event, a truncated Listed, a removed log
    chain = new_chain()
    _sell_three(chain)
    number = chain.block_for_time(_ts(1))
    good = chain.get_logs(number, number, CONTRACT)[0]

    def bad(log_index: int, topics: list[bytes], data: bytes, removed: bool = False) -> dict[str, Any]:
        return AttributeDict(
            {
                **dict(good),
                "topics": [HexBytes(t) for t in topics],
                "data": HexBytes(data),
                "logIndex": log_index,
                "removed": removed,
            }
        )

    listed_topic = bytes(good["topics"][0])  # reuse a real topic with a wrong shape below
    from shared.etl.abi import EVENT_SIGNATURES, topic0

    listed = topic0("Listed", EVENT_SIGNATURES["Listed"])
    logs = [
        bad(90, [b"\x11" * 32], b""),
        bad(91, [listed, (100).to_bytes(32, "big"), bytes(12) + bytes.fromhex(address(1)[2:])], b"\x00" * 5),
        bad(92, [listed_topic, *good["topics"][1:]], bytes(good["data"]), removed=True),
    ]
    source = _WithBadLogs(chain, logs)
    # When the extractor runs (twice: rejects are idempotent too)
    stats = sync_chain(db, source, CONTRACT, confirmations=0)
    db.execute("DELETE FROM intel.etl_checkpoints")
    db.execute("DELETE FROM intel.chain_events")
    sync_chain(db, source, CONTRACT, confirmations=0)
    # Then each is in the rejects table once with its reason, and none is in chain_events
    rejects = db.execute(
        "SELECT natural_key, reason FROM intel.etl_rejects WHERE source = 'chain' ORDER BY 1"
    ).fetchall()
    assert [reason for _, reason in rejects] == ["unknown_event_signature", "malformed_log", "removed_log"]
    assert all(key.endswith((":90", ":91", ":92")) for key, _ in rejects)
    assert stats.rejected == 3
    assert db.execute("SELECT count(*) FROM intel.chain_events WHERE log_index >= 90").fetchone() == (0,)

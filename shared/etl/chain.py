"""Chain extraction: contract logs by block range from a checkpoint, decoded, loaded into
intel.chain_events with their derived rows, in one transaction per range with the checkpoint.

Reorg safety, two layers:
1. Only blocks with `confirmations` blocks on top of them are read (head - confirmations), so a
   reorg inside the unconfirmed window never reaches the tables: those blocks are simply not
   loaded yet, and are read from the winning branch once they are confirmed.
2. A reorg deeper than that is still detected: the checkpoint stores the hash of the last block
   loaded; when the node no longer has that hash, the loader walks back over the block hashes
   it stored with the logs to the last block that still matches, deletes everything after it
   (derived rows cascade) and reads again from there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from shared.chain.source import LogSource
from shared.etl.abi import DecodedLog, IgnoredLog, UndecodableLog, as_hex, decode_log
from shared.etl.load import copy_upsert, read_checkpoint, record_rejects, write_checkpoint
from shared.identifiers import ZERO_ADDRESS

CHAIN_COLUMNS = (
    "block_number",
    "tx_hash",
    "log_index",
    "block_hash",
    "block_time",
    "contract",
    "event_name",
    "token_id",
    "from_address",
    "to_address",
    "chain_event_id",
    "price_wei",
    "args",
)
REJECT_SOURCE = "chain"
_ANALYZE_AFTER_ROWS = 5_000


@dataclass
class ChainStats:
    logs_read: int = 0
    rows_loaded: int = 0
    rejected: int = 0
    ignored: int = 0
    from_block: int | None = None
    to_block: int | None = None
    batches: int = 0
    rolled_back_blocks: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"extract": 0.0, "transform": 0.0, "load": 0.0})

    def count_batch(self, lo: int, hi: int, *, logs: int, loaded: int, rejected: int, ignored: int) -> None:
        """One block range [lo, hi] loaded."""
        self.logs_read += logs
        self.rows_loaded += loaded
        self.rejected += rejected
        self.ignored += ignored
        self.batches += 1
        self.from_block = lo if self.from_block is None else self.from_block
        self.to_block = hi


def checkpoint_job(contract_address: str) -> str:
    return f"chain:{contract_address.lower()}"


def _columns_for(name: str, args: dict[str, Any]) -> tuple[Any, Any, Any, Any, Any]:
    """(token_id, from_address, to_address, chain_event_id, price_wei) of a decoded event."""
    if name == "Transfer":
        return args["tokenId"], args["from"], args["to"], None, None
    if name == "TicketMinted":
        return args["tokenId"], None, args["to"], args["eventId"], None
    if name == "PrimarySale":
        return args["tokenId"], None, args["buyer"], args["eventId"], args["priceWei"]
    if name == "Resale":
        return args["tokenId"], args["seller"], args["buyer"], None, args["priceWei"]
    if name == "Listed":
        return args["tokenId"], args["seller"], None, None, args["priceWei"]
    if name == "Delisted":
        return args["tokenId"], args["seller"], None, None, None
    # EventCreated
    return None, None, None, args["eventId"], None


def _reject(
    log: Mapping[str, Any], number: int, tx_hash: str, log_index: int, reason: str, detail: str | None = None
) -> tuple[str, str, dict[str, Any]]:
    payload: dict[str, Any] = {
        "address": str(log["address"]),
        "topics": [as_hex(t) for t in log["topics"]],
        "data": as_hex(log["data"]),
        "blockNumber": number,
    }
    if detail is not None:
        payload["detail"] = detail
    return f"{number}:{tx_hash}:{log_index}", reason, payload


class ChainChangedUnderUs(RuntimeError):
    """A log's block hash differs from the header read for it: the node reorganised mid-read."""


def transform_logs(
    logs: Sequence[Mapping[str, Any]], contract_address: str, block_header: Callable[[int], Any]
) -> tuple[list[tuple[Any, ...]], list[tuple[str, str, dict[str, Any]]], int]:
    """Logs -> (chain_events rows, rejects, ignored count)."""
    contract = contract_address.lower()
    rows: list[tuple[Any, ...]] = []
    rejects: list[tuple[str, str, dict[str, Any]]] = []
    ignored = 0
    times: dict[int, tuple[str, datetime]] = {}
    for log in logs:
        number = int(log["blockNumber"])
        tx_hash = as_hex(log["transactionHash"])
        log_index = int(log["logIndex"])
        if log.get("removed"):
            rejects.append(_reject(log, number, tx_hash, log_index, "removed_log"))
            continue
        if str(log["address"]).lower() != contract:
            rejects.append(_reject(log, number, tx_hash, log_index, "wrong_contract"))
            continue
        try:
            decoded = decode_log(list(log["topics"]), log["data"])
        except IgnoredLog:
            ignored += 1
            continue
        except UndecodableLog as exc:
            reason = "unknown_event_signature" if "unknown event signature" in str(exc) else "malformed_log"
            rejects.append(_reject(log, number, tx_hash, log_index, reason, str(exc)))
            continue
        known = times.get(number)
        if known is None:
            header = block_header(number)
            known = times[number] = (header.hash.lower(), datetime.fromtimestamp(header.timestamp, tz=UTC))
        block_hash = as_hex(log["blockHash"])
        if block_hash != known[0]:
            raise ChainChangedUnderUs(f"block {number}: log says {block_hash}, header says {known[0]}")
        rows.append(_event_row((number, tx_hash, log_index, block_hash, known[1], contract), decoded))
    return rows, rejects, ignored


def _event_row(where: tuple[int, str, int, str, datetime, str], decoded: DecodedLog) -> tuple[Any, ...]:
    """The chain_events row (CHAIN_COLUMNS) of a decoded log found at `where` (block number, tx hash,
    log index, block hash, block time, contract); integer arguments as text in `args`."""
    token_id, from_address, to_address, chain_event_id, price_wei = _columns_for(decoded.name, decoded.args)
    args = {
        k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in decoded.args.items()
    }
    return (
        *where,
        decoded.name,
        token_id,
        from_address,
        to_address,
        chain_event_id,
        price_wei,
        json.dumps(args),
    )


# The previous Transfer of each token moved in the range, by a window over just those tokens (a
# LATERAL "latest earlier transfer" per row lets the planner walk the primary key backwards).
_HOLDS_SQL = """
WITH moved AS (
    SELECT DISTINCT token_id FROM intel.chain_events
    WHERE event_name = 'Transfer' AND block_number BETWEEN %(lo)s AND %(hi)s AND contract = %(contract)s
), sequence AS (
    SELECT c.block_number, c.tx_hash, c.log_index, c.token_id, c.from_address, c.block_time,
           lag(c.block_time) OVER by_token AS received_at,
           lag(c.to_address) OVER by_token AS received_by
    FROM intel.chain_events c JOIN moved m ON m.token_id = c.token_id
    WHERE c.event_name = 'Transfer' AND c.contract = %(contract)s AND c.block_number <= %(hi)s
    WINDOW by_token AS (PARTITION BY c.token_id ORDER BY c.block_number, c.log_index)
)
INSERT INTO intel.ticket_holds (block_number, tx_hash, log_index, token_id, holder, received_at, sent_at, hold_hours)
SELECT block_number, tx_hash, log_index, token_id, from_address, received_at, block_time,
       extract(epoch FROM block_time - received_at) / 3600.0
FROM sequence
WHERE block_number BETWEEN %(lo)s AND %(hi)s AND from_address <> %(zero)s AND received_by = from_address
ON CONFLICT DO NOTHING
"""

_FIRST_SEEN_SQL = """
INSERT INTO intel.wallets AS w (address, user_id, first_seen_at, created_at, updated_at)
SELECT address, NULL, min(block_time), min(block_time), now()
FROM (
    SELECT from_address AS address, block_time FROM intel.chain_events
    WHERE event_name = 'Transfer' AND block_number BETWEEN %(lo)s AND %(hi)s AND contract = %(contract)s
    UNION ALL
    SELECT to_address, block_time FROM intel.chain_events
    WHERE event_name = 'Transfer' AND block_number BETWEEN %(lo)s AND %(hi)s AND contract = %(contract)s
) moves
WHERE address <> %(zero)s
GROUP BY address
ON CONFLICT (address) DO UPDATE SET first_seen_at = EXCLUDED.first_seen_at
WHERE w.first_seen_at IS NULL OR EXCLUDED.first_seen_at < w.first_seen_at
"""


def _rollback_reorg(
    conn: psycopg.Connection, source: LogSource, contract: str, start_block: int
) -> tuple[int, str | None, int]:
    """Walk back to the newest loaded block whose hash the node still has; delete what is above it.
    Returns (new checkpoint block, its hash, blocks deleted)."""
    loaded = conn.execute(
        """SELECT DISTINCT block_number, block_hash FROM intel.chain_events
           WHERE contract = %s ORDER BY block_number DESC""",
        (contract,),
    ).fetchall()
    keep_block, keep_hash = start_block - 1, None
    for number, stored_hash in loaded:
        if number <= source.latest_block() and source.block(number).hash.lower() == stored_hash:
            keep_block, keep_hash = number, stored_hash
            break
    with conn.transaction():
        deleted_from = conn.execute(
            "SELECT min(block_time) FROM intel.chain_events WHERE contract = %s AND block_number > %s",
            (contract, keep_block),
        ).fetchone()
        gone = conn.execute(
            "DELETE FROM intel.chain_events WHERE contract = %s AND block_number > %s", (contract, keep_block)
        ).rowcount
        if deleted_from and deleted_from[0] is not None:
            conn.execute(
                """UPDATE intel.wallets w SET first_seen_at = (
                       SELECT min(block_time) FROM intel.chain_events c
                       WHERE c.event_name = 'Transfer' AND (c.from_address = w.address OR c.to_address = w.address))
                   WHERE w.first_seen_at >= %s""",
                (deleted_from[0],),
            )
        write_checkpoint(conn, checkpoint_job(contract), {"block": keep_block, "hash": keep_hash})
    return keep_block, keep_hash, gone


def sync_chain(
    conn: psycopg.Connection,
    source: LogSource,
    contract_address: str,
    *,
    confirmations: int | None = None,
    batch_blocks: int = 2_000,
    max_batch_blocks: int = 200_000,
    target_logs: int = 20_000,
    start_block: int = 0,
    after_batch: Callable[[int], None] | None = None,
) -> ChainStats:
    """Load every confirmed log not loaded yet. Safe to call any number of times; a crash loses at
    most the batch in flight, which the next call reads again. Block ranges start at `batch_blocks`
    and adapt towards `target_logs` logs per range (never above `max_batch_blocks`; a node that
    caps eth_getLogs ranges wants `max_batch_blocks` at its cap)."""
    from shared.config import get_settings

    if confirmations is None:
        confirmations = get_settings().chain_confirmations
    if batch_blocks < 1 or max_batch_blocks < batch_blocks:
        raise ValueError("need 1 <= batch_blocks <= max_batch_blocks")
    contract = contract_address.lower()
    stats = ChainStats()
    if not conn.autocommit:
        conn.commit()
        conn.autocommit = True
    last = _resume_after(conn, source, contract, start_block, stats)
    safe_head = source.latest_block() - confirmations
    analyze = _AnalyzeSchedule.of(conn)
    headers: dict[int, Any] = {}

    def header(number: int) -> Any:
        if number not in headers:
            headers[number] = source.block(number)
        return headers[number]

    while last < safe_head:
        lo, hi = last + 1, min(safe_head, last + batch_blocks)
        started = time.perf_counter()
        logs = source.get_logs(lo, hi, contract)
        extracted = time.perf_counter()
        rows, rejects, ignored = transform_logs(logs, contract, header)
        hi_hash = header(hi).hash.lower()
        transformed = time.perf_counter()
        loaded = _load_range(conn, contract, (lo, hi, hi_hash), rows, rejects, analyze)
        stats.seconds["extract"] += extracted - started
        stats.seconds["transform"] += transformed - extracted
        stats.seconds["load"] += time.perf_counter() - transformed
        stats.count_batch(lo, hi, logs=len(logs), loaded=loaded, rejected=len(rejects), ignored=ignored)
        last = hi
        headers.clear()
        # Sparse ranges grow (fewer round trips and transactions), dense ones shrink (bounded memory).
        if len(logs) < target_logs // 4:
            batch_blocks = min(max_batch_blocks, batch_blocks * 2)
        elif len(logs) > target_logs * 2:
            batch_blocks = max(1, batch_blocks // 2)
        if after_batch is not None:
            after_batch(hi)
    return stats


def _resume_after(
    conn: psycopg.Connection, source: LogSource, contract: str, start_block: int, stats: ChainStats
) -> int:
    """The last block loaded, per the checkpoint; when the node no longer has its hash (a reorg deeper
    than the confirmations), what is above the last block still matching is rolled back first."""
    checkpoint = read_checkpoint(conn, checkpoint_job(contract)) or {"block": start_block - 1, "hash": None}
    last, last_hash = int(checkpoint["block"]), checkpoint.get("hash")
    if last_hash is not None and (
        last > source.latest_block() or source.block(last).hash.lower() != last_hash
    ):
        last, last_hash, gone = _rollback_reorg(conn, source, contract, start_block)
        stats.rolled_back_blocks = gone
    return last


@dataclass
class _AnalyzeSchedule:
    """When to ANALYZE intel.chain_events: once the rows loaded since the last statistics reach half
    the table (at least _ANALYZE_AFTER_ROWS)."""

    analyzed_rows: int
    unanalyzed: int = 0

    @classmethod
    def of(cls, conn: psycopg.Connection) -> _AnalyzeSchedule:
        estimate = conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = 'intel.chain_events'::regclass"
        ).fetchone()
        return cls(max(0, int(estimate[0])) if estimate else 0)

    def after_load(self, conn: psycopg.Connection, loaded: int) -> None:
        self.unanalyzed += loaded
        if self.unanalyzed >= max(_ANALYZE_AFTER_ROWS, self.analyzed_rows // 2):
            self.analyzed_rows, self.unanalyzed = self.analyzed_rows + self.unanalyzed, 0
            # Fresh statistics before the derived-row queries: planned on a table "still empty",
            # they walk indexes row by row and a bulk day takes a minute instead of a second.
            conn.execute("ANALYZE intel.chain_events")


def _load_range(
    conn: psycopg.Connection,
    contract: str,
    block_range: tuple[int, int, str],
    rows: list[tuple[Any, ...]],
    rejects: list[tuple[str, str, dict[str, Any]]],
    analyze: _AnalyzeSchedule,
) -> int:
    """One block range's rows, derived rows, rejects and checkpoint (`block_range`: lo, hi and hi's
    hash) in one transaction; returns the rows loaded."""
    lo, hi, hi_hash = block_range
    with conn.transaction():
        # No fsync wait per batch: a commit lost in a crash loses its rows and its checkpoint
        # together, and the next run reads that range again.
        conn.execute("SET LOCAL synchronous_commit = off")
        loaded = copy_upsert(
            conn,
            "intel.chain_events",
            CHAIN_COLUMNS,
            rows,
            key=["block_number", "tx_hash", "log_index"],
            update=[],
        )
        analyze.after_load(conn, loaded)
        params = {"lo": lo, "hi": hi, "zero": ZERO_ADDRESS, "contract": contract}
        conn.execute(_HOLDS_SQL, params)
        conn.execute(_FIRST_SEEN_SQL, params)
        record_rejects(conn, REJECT_SOURCE, rejects)
        write_checkpoint(conn, checkpoint_job(contract), {"block": hi, "hash": hi_hash})
    return loaded

"""`simulate(conn, config)`: build the world, put its sales on a chain, write the backend tables."""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from shared.chain.evm import deploy, local_chain, set_next_block_timestamp
from shared.chain.source import Web3LogSource
from shared.chain.synthetic import SyntheticChain
from shared.errors import Conflict
from tooling.simulator.config import SimulationConfig, SimulationResult
from tooling.simulator.demo import add_demo_cast
from tooling.simulator.facts import marketplace_facts
from tooling.simulator.generate import generate
from tooling.simulator.labels import finalize
from tooling.simulator.rows import table_rows
from tooling.simulator.scenarios import SCENARIOS
from tooling.simulator.trim import Trimmed, trim_to_window
from tooling.simulator.world import World

logger = logging.getLogger(__name__)

# Events are created up to 40 days before the window (sales open up to 30 days early); the chain
# starts before all of them.
CHAIN_LEAD = timedelta(days=41)

SIM_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS sim;
CREATE TABLE IF NOT EXISTS sim.truth (
    transaction_id text PRIMARY KEY,
    scenario       text NOT NULL
);
-- Who each simulated account is (regular, power, traveller, vpn, reseller, bot, fraudster, ring, admin):
-- for error analysis (how many honest travellers did the model flag?), never a model input.
CREATE TABLE IF NOT EXISTS sim.user_kinds (
    user_id bigint PRIMARY KEY,
    kind    text NOT NULL
);
CREATE TABLE IF NOT EXISTS sim.runs (
    run_id           bigserial PRIMARY KEY,
    seed             bigint NOT NULL,
    chain            text NOT NULL,
    contract_address text NOT NULL,
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL,
    config           jsonb NOT NULL,
    counts           jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
"""

# The ingest room's ledger and batches: emptied with the tables when the facts go through ingest.
INGEST_TABLES = ("ingest.events", "ingest.batches")
Feed = Callable[[list[dict[str, Any]]], Any]

# What the simulator writes, in foreign-key order.
TABLES: dict[str, tuple[str, ...]] = {
    "marketplace.users": ("user_id", "email", "display_name", "country", "kyc_level", "created_at", "updated_at"),
    "marketplace.wallets": ("address", "user_id", "created_at", "updated_at"),
    "marketplace.events": (
        "event_id", "name", "venue", "city", "country", "category", "capacity", "face_value",
        "sale_starts_at", "starts_at", "created_at", "updated_at",
    ),
    "marketplace.tickets": (
        "ticket_id", "event_id", "seat", "face_value", "owner_wallet", "minted_at", "mint_tx_hash", "updated_at",
    ),
    "marketplace.orders": (
        "order_id", "transaction_id", "ticket_id", "event_id", "buyer_user_id", "buyer_wallet", "seller_wallet",
        "kind", "price", "fee", "currency", "payment_type", "payment_instrument", "client_ip", "status",
        "chain_tx_hash", "created_at", "updated_at",
    ),
    "marketplace.sessions": ("session_id", "user_id", "ip", "user_agent", "started_at", "ended_at", "updated_at"),
    "marketplace.login_attempts": (
        "attempt_id", "user_id", "email", "ip", "success", "failure_reason", "is_admin", "attempted_at", "updated_at",
    ),
    "intel.fraud_labels": ("transaction_id", "is_fraud", "source", "labelled_at", "created_at"),
    "sim.truth": ("transaction_id", "scenario"),
    "sim.user_kinds": ("user_id", "kind"),
}  # fmt: skip


def _derived_address(seed: int, role: str) -> str:
    from eth_utils import keccak

    return "0x" + keccak(f"ticketguard-sim:{seed}:{role}".encode())[-20:].hex()


def _prepare(conn: psycopg.Connection[Any], config: SimulationConfig, also: tuple[str, ...] = ()) -> None:
    conn.execute(SIM_SCHEMA)
    if config.replace:
        # CASCADE: the rows of other rooms that reference the marketplace's (the pricing experiment's
        # assignments, the resale listings: migration 0700) go with the marketplace they describe.
        conn.execute(f"TRUNCATE {', '.join((*reversed(TABLES), *also))}, sim.runs CASCADE")
        return
    busy = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM marketplace.users) OR EXISTS (SELECT 1 FROM marketplace.orders)"
        " OR EXISTS (SELECT 1 FROM intel.fraud_labels)"
    ).fetchone()
    if busy and busy[0]:
        raise Conflict(
            "the marketplace tables already hold data; simulate into an empty database or pass replace=True "
            "(--replace) to truncate what a previous simulation wrote"
        )


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: Any) -> str:
    """One field in COPY's text format (what psycopg's write_row does, at a fraction of the cost)."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # int, Decimal


def _copy(conn: psycopg.Connection[Any], table: str, rows: Iterable[Sequence[Any]]) -> int:
    n = 0
    chunk: list[str] = []
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(TABLES[table])}) FROM STDIN") as copy:
        for row in rows:
            chunk.append("\t".join(map(_text, row)))
            n += 1
            if len(chunk) >= 5_000:
                copy.write("\n".join(chunk) + "\n")
                chunk.clear()
        if chunk:
            copy.write("\n".join(chunk) + "\n")
    return n


@dataclass
class BuiltWorld:
    """A generated, labelled world with every sale on its chain, before anything is written: what
    `simulate` writes, and what the live-path evaluation (tooling.livepath) posts through ingest as
    simulated time passes."""

    world: World
    label_rows: list[tuple[str, bool, str, float]]
    labels: Any  # tooling.simulator.labels.Labels
    log_source: Any
    ledger: Any
    w3: Any
    organizer: str
    contract_address: str
    mint_hashes: dict[int, list[str]]
    first_block: int
    timings: dict[str, float]
    trimmed: Trimmed | None = None

    def facts(self) -> list[dict[str, Any]]:
        """The marketplace's facts as its backend would send them (tooling.simulator.facts)."""
        return marketplace_facts(self.world, self.label_rows, self.organizer, self.mint_hashes)


def _chain(config: SimulationConfig) -> tuple[Any, Any, Any, str, str]:
    """(w3 or None, the ledger sales go through, its LogSource, organizer, contract address)."""
    genesis = int((config.start - CHAIN_LEAD).timestamp())
    w3 = None
    ledger: Any
    if config.chain == "evm":
        w3 = local_chain(genesis)
        ledger = deploy(w3, at=genesis + 1)
        organizer = ledger.roles.organizer.lower()
        contract_address = ledger.address
        log_source: Any = Web3LogSource(w3)
    else:
        organizer = _derived_address(config.seed, "organizer")
        contract_address = _derived_address(config.seed, "contract")
        ledger = SyntheticChain(
            contract_address=contract_address,
            genesis_timestamp=genesis,
            organizer=organizer,
            fee_recipient=_derived_address(config.seed, "fees"),
            salt=f"ticketguard-sim:{config.seed}",
        )
        log_source = ledger
    return w3, ledger, log_source, organizer, contract_address


def build_world(config: SimulationConfig) -> BuiltWorld:
    """The world of `config` generated and labelled, its sales put on the chain (`config.chain`: the
    in-process EVM, or synthetic logs) whose head is then the window's end."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    w3, ledger, log_source, organizer, contract_address = _chain(config)
    first_block = log_source.latest_block() + 1

    # ---------------------------------------------------------------- the world
    world = generate(config, organizer=organizer)
    labels = finalize(world)
    if config.demo_cast:
        add_demo_cast(world, labels)
    trimmed = None
    if config.trim_to_window:
        trimmed = trim_to_window(world, config.trim_from.timestamp() if config.trim_from else None)
    timings["generate"] = time.perf_counter() - clock

    # ---------------------------------------------------------------- sales on chain
    clock = time.perf_counter()
    mint_hashes: dict[int, list[str]] = {}
    for op in world.ops:
        result = getattr(ledger, op.kind)(*op.args, at=math.ceil(op.at))
        if op.kind == "mint_batch":
            assert op.event_id is not None
            mint_hashes[op.event_id] = result
        elif op.order is not None:
            op.order.chain_tx_hash = result
    end_ts = int(config.end.timestamp())
    if w3 is not None:
        set_next_block_timestamp(w3, end_ts)
        w3.testing.mine(1)  # the head of the chain is "now"
    else:
        ledger.advance_to(end_ts)
    timings["chain"] = time.perf_counter() - clock
    return BuiltWorld(
        world=world,
        label_rows=labels.rows,
        labels=labels,
        log_source=log_source,
        ledger=ledger,
        w3=w3,
        organizer=organizer,
        contract_address=contract_address,
        mint_hashes=mint_hashes,
        first_block=first_block,
        timings=timings,
        trimmed=trimmed,
    )


def simulate(
    conn: psycopg.Connection[Any], config: SimulationConfig, feed: Feed | None = None
) -> SimulationResult:
    """Generates `config.days` of marketplace activity ending at `config.end` into the database
    behind `conn` (marketplace.*, intel.fraud_labels, sim.truth, sim.runs), with every sale on the
    chain (`config.chain`: the in-process EVM, or synthetic logs).

    `feed`: the marketplace's facts go through it (tooling.simulator.feed: the ingest API, as the real
    backend's would); without it, the bulk mode: COPY into the tables in one transaction, for
    benchmarks and training sets."""
    built = build_world(config)
    world, labels, timings = built.world, built.labels, built.timings

    # ---------------------------------------------------------------- the backend tables
    clock = time.perf_counter()
    if feed is None:
        counts = _write(
            conn, config, world, labels.rows, built.mint_hashes, built.organizer, built.contract_address
        )
    else:
        facts = built.facts()
        counts = _feed(conn, config, world, lambda: feed(facts))
        with conn.transaction():
            _record_run(conn, config, built.contract_address, counts)
    timings["write"] = time.perf_counter() - clock

    by_scenario = Counter(order.scenario for order in world.orders)
    result = SimulationResult(
        config=config,
        start=config.start,
        end=config.end,
        chain=config.chain,
        log_source=built.log_source,
        contract_address=built.contract_address,
        market=built.ledger,
        w3=built.w3,
        counts=counts,
        orders_by_scenario={s: by_scenario.get(s, 0) for s in SCENARIOS},
        labels={
            "written_fraud": sum(1 for r in labels.rows if r[1]),
            "written_legit": sum(1 for r in labels.rows if not r[1]),
            "pending": labels.pending,
            "never": labels.never,
        },
        chain_transactions=len(world.ops),
        first_block=built.first_block,
        last_block=built.log_source.latest_block(),
        marketplace_events=counts["marketplace.orders"]
        + counts["marketplace.sessions"]
        + counts["marketplace.login_attempts"]
        + world.listing_ops,
        timings_s=timings,
        trimmed=built.trimmed,
    )
    logger.info("simulated %s", counts)
    return result


def _write(
    conn: psycopg.Connection[Any],
    config: SimulationConfig,
    world: World,
    label_rows: list[tuple[str, bool, str, float]],
    mint_hashes: dict[int, list[str]],
    organizer: str,
    contract_address: str,
) -> dict[str, int]:
    """Every table in one transaction, in the order `table_rows` gives (parents first)."""
    counts: dict[str, int] = {}
    with conn.transaction():
        _prepare(conn, config)
        for table, rows in table_rows(world, label_rows, mint_hashes, organizer):
            counts[table] = _copy(conn, table, rows)
        _record_run(conn, config, contract_address, counts)
    return counts


def _record_run(
    conn: psycopg.Connection[Any], config: SimulationConfig, contract_address: str, counts: dict[str, int]
) -> None:
    conn.execute(
        "INSERT INTO sim.runs (seed, chain, contract_address, window_start, window_end, config, counts)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            config.seed,
            config.chain,
            contract_address,
            config.start,
            config.end,
            json.dumps(config.model_dump(mode="json") | ({"demo_cast": True} if config.demo_cast else {})),
            json.dumps(counts),
        ),
    )


def _feed(
    conn: psycopg.Connection[Any],
    config: SimulationConfig,
    world: World,
    send: Callable[[], Any],
) -> dict[str, int]:
    """The facts through `send` (the ingest API), the simulator's own truth tables directly. The
    truncation commits first: the consumer's own connections must not wait on its lock."""
    conn.commit()  # ends the caller's implicit transaction, if any, so the block below commits
    with conn.transaction():
        _prepare(conn, config, also=INGEST_TABLES)
    send()
    counts = {
        table: int(row[0])
        for table in TABLES
        if table.startswith(("marketplace.", "intel."))
        and (row := conn.execute(f"SELECT count(*) FROM {table}").fetchone()) is not None
    }
    with conn.transaction():
        counts["sim.truth"] = _copy(conn, "sim.truth", ((o.transaction_id, o.scenario) for o in world.orders))
        counts["sim.user_kinds"] = _copy(conn, "sim.user_kinds", ((u.user_id, u.kind) for u in world.users))
    return counts

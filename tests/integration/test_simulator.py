"""The simulator against a real PostgreSQL and a real EVM: backend orders match the chain one to one,
every constraint holds, same seed -> same rows, labels and truth, the CLI."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from eth_utils import event_abi_to_log_topic

from shared.chain.artifacts import load_artifact
from shared.chain.units import usd_to_wei
from tests.fixtures.chain import SimulatedMarketplace
from tooling.cli import main as ticketguard
from tooling.simulator.config import SimulationConfig
from tooling.simulator.run import TABLES, simulate

END = datetime(2026, 11, 20, tzinfo=UTC)
# The synthetic chain encodes its logs from the compiled ABI: built (or rebuilt) first.
pytestmark = pytest.mark.usefixtures("contract_artifacts")


def _table_digest(conn: psycopg.Connection, table: str) -> str:
    columns = [c for c in TABLES[table] if c != "updated_at" or table == "marketplace.orders"]
    rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _decoded_sales(sim: SimulatedMarketplace) -> dict[str, tuple[str, int, str, str | None, int]]:
    """tx hash -> (kind, token, buyer, seller, price wei) from the chain's PrimarySale/Resale logs."""
    contract = sim.result.market.contract
    names = {event_abi_to_log_topic(e): e["name"] for e in contract.abi if e["type"] == "event"}
    logs = sim.log_source.get_logs(0, sim.log_source.latest_block(), sim.contract_address)
    sales = {}
    for log in logs:
        name = names[bytes(log["topics"][0])]
        if name not in {"PrimarySale", "Resale"}:
            continue
        args = getattr(contract.events, name)().process_log(log)["args"]
        tx = "0x" + bytes(log["transactionHash"]).hex()
        assert tx not in sales  # one sale per transaction
        if name == "PrimarySale":
            sales[tx] = ("primary", args["tokenId"], args["buyer"].lower(), None, args["priceWei"])
        else:
            sales[tx] = (
                "resale",
                args["tokenId"],
                args["buyer"].lower(),
                args["seller"].lower(),
                args["priceWei"],
            )
    return sales


def test_backend_orders_match_chain_sales_one_to_one(
    simulated_marketplace: SimulatedMarketplace, db: Any
) -> None:
    # Given the small EVM-mode marketplace
    sales = _decoded_sales(simulated_marketplace)
    orders = db.execute(
        "SELECT chain_tx_hash, kind, ticket_id, buyer_wallet, seller_wallet, price, status FROM marketplace.orders"
    ).fetchall()
    # Then every order that reached the chain has exactly one sale log, with the same facts
    on_chain = [o for o in orders if o[0] is not None]
    assert len(on_chain) == len(sales) > 100
    for tx, kind, ticket_id, buyer, seller, price, _ in on_chain:
        assert sales[tx] == (kind, ticket_id, buyer, seller, usd_to_wei(price))
    # And orders with no transaction are exactly the failed payments
    assert {o[6] for o in orders if o[0] is None} <= {"failed"}
    assert all(o[0] is not None for o in orders if o[6] != "failed")


def test_ticket_owners_match_the_chain(simulated_marketplace: SimulatedMarketplace, db: Any) -> None:
    market = simulated_marketplace.result.market
    rows = db.execute("SELECT ticket_id, owner_wallet FROM marketplace.tickets ORDER BY ticket_id").fetchall()
    for ticket_id, owner in rows[:: max(1, len(rows) // 60)]:
        assert market.owner_of(ticket_id) == owner
    events = db.execute("SELECT count(*), sum(capacity) FROM marketplace.events").fetchone()
    assert events[1] == len(rows)


def test_every_scenario_and_the_truth_table(simulated_marketplace: SimulatedMarketplace, db: Any) -> None:
    result = simulated_marketplace.result
    truth = dict(db.execute("SELECT scenario, count(*) FROM sim.truth GROUP BY 1").fetchall())
    assert truth == {k: v for k, v in result.orders_by_scenario.items() if v}
    assert set(truth) == {"legit", "scalper_bot", "stolen_card", "wash_trading", "account_takeover"}
    n_orders = db.execute("SELECT count(*) FROM marketplace.orders").fetchone()[0]
    assert sum(truth.values()) == n_orders == result.counts["marketplace.orders"]
    # every account has its kind recorded: honest look-alikes and fraudsters alike
    kinds = dict(db.execute("SELECT kind, count(*) FROM sim.user_kinds GROUP BY 1").fetchall())
    assert sum(kinds.values()) == result.counts["marketplace.users"]
    assert {"regular", "power", "traveller", "reseller", "bot", "fraudster", "ring", "admin"} <= set(kinds)
    # labels only for orders that exist, and known by the end of the window
    late = db.execute(
        "SELECT count(*) FROM intel.fraud_labels l LEFT JOIN marketplace.orders o USING (transaction_id)"
        " WHERE o.order_id IS NULL OR l.labelled_at > %s OR l.labelled_at < o.created_at",
        (result.end,),
    ).fetchone()[0]
    assert late == 0


def test_rows_respect_the_schema_and_the_window(simulated_marketplace: SimulatedMarketplace, db: Any) -> None:
    # The database enforced every CHECK and foreign key on the way in; these are the conventions on top.
    result = simulated_marketplace.result
    for table, n in result.counts.items():
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == n, table
    assert db.execute(
        "SELECT count(*) FROM marketplace.orders WHERE created_at < %s OR created_at > %s",
        (result.start, result.end),
    ).fetchone() == (0,)
    assert db.execute(
        "SELECT count(*) FROM marketplace.orders o JOIN marketplace.wallets w ON w.address = o.buyer_wallet"
        " WHERE w.user_id <> o.buyer_user_id OR w.created_at > o.created_at"
    ).fetchone() == (0,)
    assert db.execute(
        "SELECT count(*) FROM marketplace.orders WHERE chain_tx_hash <> lower(chain_tx_hash)"
    ).fetchone() == (0,)
    assert (
        db.execute(
            "SELECT count(*) FROM marketplace.login_attempts WHERE is_admin AND failure_reason = 'bad_mfa'"
        ).fetchone()[0]
        >= 6
    )


def test_same_seed_same_rows_and_refusal_to_overwrite(db: Any) -> None:
    # Given a synthetic-mode simulation
    config = SimulationConfig(seed=3, days=2, transactions_per_day=400, end=END)
    first = simulate(db, config)
    digests = {table: _table_digest(db, table) for table in TABLES}
    # When it runs again into the same database without replace, Then it refuses
    from shared.errors import Conflict

    with pytest.raises(Conflict):
        simulate(db, config)
    # When it runs again with replace, Then every table holds identical rows
    second = simulate(db, config.model_copy(update={"replace": True}))
    assert {table: _table_digest(db, table) for table in TABLES} == digests
    assert first.counts == second.counts and first.contract_address == second.contract_address
    # And the chains are identical too
    logs = [first.log_source.get_logs(0, first.last_block, first.contract_address)]
    logs.append(second.log_source.get_logs(0, second.last_block, second.contract_address))
    assert logs[0] == logs[1]
    # When another seed runs, Then the rows differ
    simulate(db, config.model_copy(update={"replace": True, "seed": 4}))
    assert _table_digest(db, "marketplace.orders") != digests["marketplace.orders"]


def test_synthetic_orders_match_their_logs(db: Any) -> None:
    result = simulate(db, SimulationConfig(seed=8, days=1, transactions_per_day=600, end=END))
    logs = result.log_source.get_logs(result.first_block, result.last_block, result.contract_address)
    topics = Counter(bytes(log["topics"][0]) for log in logs)
    on_chain = db.execute(
        "SELECT count(*) FROM marketplace.orders WHERE chain_tx_hash IS NOT NULL"
    ).fetchone()[0]
    abi = {e["name"]: e for e in load_artifact("TicketMarket").abi if e["type"] == "event"}
    primary, resale = event_abi_to_log_topic(abi["PrimarySale"]), event_abi_to_log_topic(abi["Resale"])
    assert topics[primary] + topics[resale] == on_chain
    hashes = {
        "0x" + bytes(log["transactionHash"]).hex()
        for log in logs
        if bytes(log["topics"][0]) in {primary, resale}
    }
    assert hashes == {
        r[0]
        for r in db.execute("SELECT chain_tx_hash FROM marketplace.orders WHERE chain_tx_hash IS NOT NULL")
    }


def test_cli_prints_counts_and_shares(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--seed", "2", "--days", "1", "--transactions-per-day", "300"]
    args += ["--end", "2026-11-20T00:00:00+00:00", "--database-url", database_url]
    assert ticketguard(args) == 0
    out = capsys.readouterr().out
    assert "marketplace.orders" in out and "scalper_bot" in out and "fraud overall" in out
    # A second run without --replace stops with one line naming the problem
    assert ticketguard(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--replace" in err
    # Bad input is refused with a clear message, not a stack trace
    assert ticketguard(["simulate", "--days", "-1", "--database-url", database_url]) == 2
    assert "days" in capsys.readouterr().err

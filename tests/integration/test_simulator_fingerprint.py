"""The simulator's output, pinned: for a few configs, a digest of every row `simulate` writes (each
table's COPY stream, byte for byte, in the order produced), of the run record, of the result's
counts, and of every log on the synthetic chain.

Why: the same-seed test proves that one build of the code repeats itself, not that a refactoring
kept every random draw in its place. These digests were recorded from the code as it stood before
`world.py` was split into scenario modules (issue 15); a change that moves, adds or drops a single
draw changes the marketplace and fails here. A deliberate change of behaviour updates them, and
says so in its commit.

No database: a stand-in connection records what `simulate` would have sent to PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from tooling.simulator.config import SimulationConfig, SimulationResult
from tooling.simulator.run import simulate

END = datetime(2026, 11, 20, tzinfo=UTC)
# The synthetic chain encodes its logs from the compiled ABI: built (or rebuilt) first.
pytestmark = pytest.mark.usefixtures("contract_artifacts")


class _RecordingCopy:
    def __init__(self, digest: Any) -> None:
        self._digest = digest

    def write(self, data: str) -> None:
        self._digest.update(data.encode())


class _RecordingCursor:
    def __init__(self, streams: dict[str, Any]) -> None:
        self._streams = streams

    def __enter__(self) -> _RecordingCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @contextmanager
    def copy(self, statement: str) -> Iterator[_RecordingCopy]:
        # The statement names the table and its columns: part of what is pinned.
        digest = hashlib.sha256(statement.encode())
        self._streams[statement.split()[1]] = digest
        yield _RecordingCopy(digest)


class _Result:
    def fetchone(self) -> tuple[bool]:
        return (False,)  # "the marketplace tables are empty"


class _RecordingConnection:
    """What `simulate` needs of a psycopg connection, recording instead of writing."""

    def __init__(self) -> None:
        self.streams: dict[str, Any] = {}
        self.statements: list[str] = []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def cursor(self) -> _RecordingCursor:
        return _RecordingCursor(self.streams)

    def execute(self, statement: str, params: Any = None) -> _Result:
        self.statements.append(repr((statement, params)))
        return _Result()


def _canonical(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(config: SimulationConfig) -> dict[str, str]:
    """Per table a digest of its rows as written, plus the run record, the result and the chain."""
    conn = _RecordingConnection()
    result: SimulationResult = simulate(conn, config)  # type: ignore[arg-type]
    logs = result.log_source.get_logs(0, result.last_block, result.contract_address)
    summary = {
        "counts": result.counts,
        "orders_by_scenario": result.orders_by_scenario,
        "labels": result.labels,
        "chain_transactions": result.chain_transactions,
        "blocks": [result.first_block, result.last_block],
        "marketplace_events": result.marketplace_events,
        "contract_address": result.contract_address,
    }
    return {
        **{table: digest.hexdigest() for table, digest in sorted(conn.streams.items())},
        "statements": _sha("\n".join(conn.statements)),
        "result": _sha(json.dumps(summary, sort_keys=True)),
        "chain_logs": _sha(json.dumps(_canonical(list(logs)), sort_keys=True)),
    }


CONFIGS: dict[str, dict[str, Any]] = {
    # the same-seed test's size: two days, every scenario
    "two_days": {"seed": 5, "days": 2, "transactions_per_day": 400},
    # a month: accounts taken over right after their owners' purchases, labels delayed past the end
    "month": {"seed": 9, "days": 30, "transactions_per_day": 200, "fraud_mislabelled": 0.08},
    # half a day at a high fraud rate: wash-trading hops run at a faster pace in a short window
    "short_and_fraudulent": {"seed": 1234, "days": 0.5, "events_per_day": 6000, "fraud_rate": 0.08},
    # no fraud at all: no scenario episode, only honest shopping and the security noise
    "honest": {"seed": 2, "days": 1, "transactions_per_day": 300, "fraud_rate": 0},
}

# Recorded from the code before the split of world.py: commit 1bdae24 added this test to that code.
# Issue 23 re-recorded marketplace.sessions, marketplace.login_attempts, the result and the statements
# (the run record: their counts), and nothing else: the 90 days of honest sessions and logins before the
# window (tooling.simulator.history, its own RNG). Orders, tickets, labels, the truth and the chain's logs
# are the recorded ones: every scenario, fraud included, does exactly what it did.
# Then issue 23 re-recorded every table: the honest accounts opened during the window are now 0.1% a
# day of the window (tooling.simulator.people.OPENED_IN_WINDOW_PER_DAY, at most 10%) instead of 10% of
# any window, so the population's draws moved and every later draw with them; no scenario module changed.
# Then issue 23 re-recorded every table again (steady state, tooling/simulator/people.py, generate.py,
# scenarios/legit.py, history.py): the honest population is sized by the orders of a day (25 accounts per
# daily honest order) instead of the window's total, accounts open at one steady rate over the 720 days
# before the window and during it, an honest episode's moment is drawn before its customer (among the
# accounts open by then), and a history session ends before the window. Every draw after the population's
# moved; the fraud scenarios' modules are unchanged (each attacker does what it did).
# Then issue 23 re-recorded every table again (shows at steady state, tooling/simulator/catalogue.py): shows
# are announced at a steady rate and sold until they take place, instead of all created at the window's
# start and sold to its end; the catalogue's draws moved and every later draw with them. The fraud
# scenarios' modules are unchanged; a lapsed listing (its show past) is no longer sold (market.py).
EXPECTED: dict[str, dict[str, str]] = {
    "two_days": {
        "intel.fraud_labels": "de1c4dfd20a6ecfe42ebe4a8c5cbc7ae9b300d98417a4c4cce5a9b9772c2aae8",
        "marketplace.events": "c9c28746d909befcce823afffda771879518353ee4c8e01af701fc941180069a",
        "marketplace.login_attempts": "39cae7fbb93bf96abb6fe2439eba3f8599d75366ec4a1f29b6e7a9e0690ba47c",
        "marketplace.orders": "cc6dab31b7a0a288425a4b97418caad7b33dde1151322e37243519ffa0f86abe",
        "marketplace.sessions": "3dd4e4504566525f1e7fc39f0a9766ab2d7011617f486f377d720275e6ef930b",
        "marketplace.tickets": "92a5edde11e0ba0ab309f1cd5377ae785c616601dde8461434611a1526985c4d",
        "marketplace.users": "2b3c35a008a4bc3c29d89a5a1859d71896b638b62b212cc5a435cc83895b59a9",
        "marketplace.wallets": "620818b69e5b1b9f5381395db5aaf808572be83335b7c1c35d0f0c569cb239b0",
        "sim.truth": "d0f32a80e3e0ec91bc71ed070227eda8cae0fae88369740dba66e6757905339c",
        "sim.user_kinds": "4fb2d137c830ddf9a34e08c5db5dee6474bffa018d2e4d02ee8d6f6f132d16ec",
        "chain_logs": "faa9dd29d0cbd881ba40ce7405824bb2bf966dd48f861b7e4afe40183afeee8c",
        "result": "5ec61793162ee82680ccb8d473d75650bc988f8f44c6c8d92a20554edde92ff1",
        "statements": "05923cf4e346a93b2fac2a3be0b0b8e2ffe60314c55ac685f4607a9dfa72c514",
    },
    "month": {
        "intel.fraud_labels": "963787c32ea0ff5988d7103f178cb62d33b405224ca61be9fef7eba35f117979",
        "marketplace.events": "334d47edb2c5a95d12a0737cc8ea6c3c352bc49370b4ae50b6dd4754d2e83458",
        "marketplace.login_attempts": "63cbea048bd34c2b672157d902fcf0cd2cdd0a6aadd3916cfdb2ff82e9fa20b3",
        "marketplace.orders": "edff066547738a5353ebfea23d3fb5393779c4051a69fa4de936b0c35b22898c",
        "marketplace.sessions": "5ec319322709b284f511c6a66f085f42e73ccd10fcfed48ad9e50862323a94a7",
        "marketplace.tickets": "2ce8e410398e4a267aa0f26e5417b062345625f9ef3cdea6c67c24c5a45f1e6f",
        "marketplace.users": "fe84c297740319172cc5b9a6aeef77ed0ec0e23d7393645fe498f73af6bc2de5",
        "marketplace.wallets": "696a79485325602b731c697b8db0bf1b291db82a86fc8e632b43b97ea3842507",
        "sim.truth": "7e9f8519f48871ad65a8586cc8e9dc2b322afc2ebb3fc9a6214968b30b213f04",
        "sim.user_kinds": "e0d3838ea6764724cfff38dbf7be01b563ed456ba0ad7e97043a73e8d021ed5d",
        "chain_logs": "e5a09c7f621cb44c440124fe33ad1195636e79eabec9bf5392b4daab2e935e73",
        "result": "9f49389e14d8d250edc9661c328673820d35268d899ae5a7901520ba3d6a541e",
        "statements": "a1b6533f88188e9d900f9eaea4fcd06d6377b604c253bb7d1a161b61c5523b22",
    },
    "short_and_fraudulent": {
        "intel.fraud_labels": "1e27b896f346b3ed44c46b253a409d1e5c0ea241c654c98e1ea83b9588020617",
        "marketplace.events": "2331588cc0a78cf7d56a794a1d1fed5a74557b735fff26036480d0ed0a830290",
        "marketplace.login_attempts": "5d3d6fe42f65c458370fdc866ab5cf5b43ed1e2f1a64d337eee996cf23f2a768",
        "marketplace.orders": "ea0450967e48c3ed33c0e782aa943953947780f46ff71ca8967acd3e9eb81252",
        "marketplace.sessions": "ff8f2a94d1cbcf0b54ad872f4a0f876778673090b66977111d24997632f2acce",
        "marketplace.tickets": "f2a5299d539acd111019324f9838f5711ea22bf070b80efe63a5961a5f6b5c7d",
        "marketplace.users": "6562519ac7eb34691e93f8be6acb70cedb0a59b6db48e9108e34d4a698b82d7d",
        "marketplace.wallets": "9f552c71d636973ccc4a1641ade2b525e5a731b254c06ffadecfcb2d53ef894d",
        "sim.truth": "fd87de855c36fd729eda947d40299131c3a7833426dd83bb8d946b16b10474ee",
        "sim.user_kinds": "30b6d456b2be38d4473daeef8011de45387934cc70b7e448c897a4386f41352b",
        "chain_logs": "b2fd416170f91c9e515774824064c48f63ff8b823351ab1373fa4d9974a22200",
        "result": "6268e24bcecef01db68a581310e96758973625eafea75493f5d08f51da132d18",
        "statements": "e922ca0b8b0d926c53ca3254aab48ed9611137f1f4dfa803548c588436b7c286",
    },
    "honest": {
        "intel.fraud_labels": "b5389054f4c3289251809ae1d7b317b6a0d82da1eada08dda6e0222a0e70f515",
        "marketplace.events": "800a94c1a16fcca0f95cd537ca052748b83fb88fdb23c1d54f3afe1750e685fe",
        "marketplace.login_attempts": "fb30b107472c9046860b87fa7d6d216a972d6b9944b4428efa176c44b4861269",
        "marketplace.orders": "ec4e5c5ffc94f55cd1637c074233873af81ec15bc18d5b4a70a29303ff570593",
        "marketplace.sessions": "95a785a3092acc61a04b33aaebc8f6fce0ac83b58dca48b51e46498c551295a2",
        "marketplace.tickets": "f0a3b12342b96a419f2768701d87f7f5a45231c03c90539dd62f83dc6a3f3164",
        "marketplace.users": "6c1354f188adb2d16941632a68b911cd65087933fdfa328dab562f59604e88ef",
        "marketplace.wallets": "e648ebaa5db111f9abbdf6c6bf443c9fb9c33b5a1642eae0809b2a3e9d86a60c",
        "sim.truth": "b71d953aac594439d86315612e11d0e51331321aaf8318bbf8971be51aeb5485",
        "sim.user_kinds": "0b0dd3491ec9f4c186599e8a88422b1e8a44bead191101ade246c4de38bc06dc",
        "chain_logs": "ca875a27d7d6ccdf1ba705c8fbbe66d5dcd156f6f03c2923c42e5a652bff32d3",
        "result": "1c1b7e8f5a6c22c58911823c3bb59c43cef15c17620c171034d274e678f2f2da",
        "statements": "f3b6ef66aa5fea542438927263ad5a4bde35fa9cb7a8200a201f0dde4a4ede33",
    },
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_same_config_gives_the_recorded_marketplace(name: str) -> None:
    # Given a config whose output was recorded
    config = SimulationConfig(**CONFIGS[name], end=END)
    # When it is simulated
    got = fingerprint(config)
    # Then every table, the run record, the result and the chain's logs are exactly as recorded
    assert got == EXPECTED[name]

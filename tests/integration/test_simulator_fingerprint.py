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

from shared.simulator import SimulationConfig, SimulationResult, simulate

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
# window (shared.simulator.history, its own RNG). Orders, tickets, labels, the truth and the chain's logs
# are the recorded ones: every scenario, fraud included, does exactly what it did.
EXPECTED: dict[str, dict[str, str]] = {
    "two_days": {
        "intel.fraud_labels": "79b8a8ce430faf12692c5a7a6f04f1b0819c14b232561323c70747d3ea10e303",
        "marketplace.events": "074ded3e5cd008f5d3797591e405aad040f42f194591ab5b92c8be16bdfeeb19",
        "marketplace.login_attempts": "1e62bb9fcfd763800225e534668ab37a4a4e0046a2ea83ad43ee64c4539c6d47",
        "marketplace.orders": "610e8fabbae0db9a70ab2643951dfc8ec00b915b0af1950c1e66beb34ffd7118",
        "marketplace.sessions": "e3bdf925a8c7fd96c8e0a333ac36f94ebb871a1267113fb2bfd4bc950ddcac36",
        "marketplace.tickets": "72d8183c2d4c3745b36a755dbd653359af0819d4c7ce591203ac60780f6a31c1",
        "marketplace.users": "61f4c4449eedcc919c911ab018b7e7bba83ef2ff78f69a8c44f6a0d7dd61e9f4",
        "marketplace.wallets": "dba0017e542ae65f1f9e67b4d25fc840802a055a0a47212dc01ee8bcce9b55e7",
        "sim.truth": "52e499b52e529c6505df2fe2cc6de08feccdd033a5758ad952b0b2f5a9d534e1",
        "sim.user_kinds": "7d3206177a12273f9c9d9f4af529242a5e13ec55f5b756c2d26e4268af78ff94",
        "statements": "4fbcb2e80a4fec2830635145848f5eefe1b6e61b2c632b3c27ef01bae3856d2d",
        "result": "ec22437cd97800845c695e8a45db17633f054204ad6d4a5310d22e0ee6bdcb6d",
        "chain_logs": "b055330326525641d15196f3a099bf2fa915f1b3e10de518add43c812f7bd20e",
    },
    "month": {
        "intel.fraud_labels": "955d59a570a16d0cf8832f833d9f4bc34d3839f6e2d69ef042ad391cfe95d5de",
        "marketplace.events": "8187e778e915ddd681beb2108cda6629ff992a84c9f6cae5dce9a3d45ca600d2",
        "marketplace.login_attempts": "66667b602c07ceb9c3b87ebd69c6fb33bbb82d8dc5a4b8412732168326ed3cac",
        "marketplace.orders": "de11f1f2e2d8e57e6f92850d979d2af76a84ee0c816e039c7dadd66edbb5594e",
        "marketplace.sessions": "399677c216f11a180c15e966c95c575a30237807890aea5b02e20f8aedd72e2c",
        "marketplace.tickets": "c6b423bac63fde7bf63b242941ba9b01323dbff3956569fb66835f1020e8300e",
        "marketplace.users": "4e2dbf4298357d54ccb494563c98d1aea4dfc45dac3d92bf9784b89c162bfb11",
        "marketplace.wallets": "9f34a8d36c291fed273ef3617d99d08eca3a9c260262686b54fcf22ab969621d",
        "sim.truth": "408f4a2b6b3e87ec532ecadf4ddf865ed404d0511047bb14a5276512e1be6e48",
        "sim.user_kinds": "0bf2a459bc2326eaa478802844ea00a7da830f888903ce96ced13e1a5dd6f96d",
        "statements": "470ca87fdaa08d979c92c99f3ab3fe8737ae9baa03647a1e76d2e587abef6130",
        "result": "d5a6deaf577d57a3881ae5aa83f7bce0fa32baadaac633009710c96c1bb05dd4",
        "chain_logs": "3412d38979dfd38001e715ca4867fe585833d0c4ee4097f14137e7cfb22146ad",
    },
    "short_and_fraudulent": {
        "intel.fraud_labels": "1cb90c79108e7a7a848a40c0f52383eb8c076a7b6c37c4565742d8d568dcdfaf",
        "marketplace.events": "742c9d991e8dad24971286979656d8b32725c25c05550f4eb29ed69e907787fd",
        "marketplace.login_attempts": "6428bb5af399a47ba347eab097bb838518a3747aac397988a197eef25fdd1e68",
        "marketplace.orders": "900680cf1b6706b0e293adbc4f2d3895b7538ae087cf5ecebe309c7d81ed5cb3",
        "marketplace.sessions": "d10829ee66a5117ee12f7c3919477250ee83ec1cb7b2ed42b9d0ab2715223174",
        "marketplace.tickets": "3c076e1a22928bae4030dd965ec3a9a07094f886c5e88c3cbe283dc6c99b9b9e",
        "marketplace.users": "30618f7e3cf7e0c8bc7fcc5d09a6ea51faf512d93dff13a2010f6335e38f4a85",
        "marketplace.wallets": "913ed5d7280c5ed35595e896e5d939fb41798c73ded7ae057093df8f349ab4c3",
        "sim.truth": "15395613cdeba1a922856e438a384dda31508de37af29054adf5d586d97f09af",
        "sim.user_kinds": "ead62d1aa8383e943e5c2a4dd61676b6aac3473f46fbf261a73c0d7607d730fe",
        "statements": "7c03398b9783ddde2364a06c4ef9f9933b8312d25df8a9dd3b870d8cd6bd0eaa",
        "result": "27dbe49a0d5a33cd829ad559f5301b1a65982e93e6853e0f86e62e1615005de9",
        "chain_logs": "db081e8247647c85f8ecc21a657bd0b86a44d099f5dff8bd43e7e8704cd7b2d3",
    },
    "honest": {
        "intel.fraud_labels": "89e0e1265eb64934633526ce1ca22ba04f8ef89675ddac3e97b8f8d32428ae7e",
        "marketplace.events": "d1b5a866562d32449c21f0bcd6d8adba73eb3ab658b45bac9e49d0aa8bbb4256",
        "marketplace.login_attempts": "b58ed03c820aa2f324223023afbb31152b2c2ccd99a68737f2e526cc1c230f65",
        "marketplace.orders": "8ddc8c058d27e0c5a3f96c63583b2fa19f41f732de7b38dd95de97d3a8bc2117",
        "marketplace.sessions": "9d3d80060e167eb84c36476aac70280008b7add38cb08b85186a3e1ff00b4ac4",
        "marketplace.tickets": "a46551862b45dce5e490434d87278738a92dd78e5b589934437b29841f391922",
        "marketplace.users": "7124728fee34266067fa1f52155450a353baddf07b085932f25902b6cddd4c8b",
        "marketplace.wallets": "118ae72d60ed0c76ba20a1f4af488b211a5e4414baadd386e0753526245e5a4c",
        "sim.truth": "23c519e5d1ddceeff1c5ea6ec1bb190a7e20bbcdf8c384c16e04271eb002d730",
        "sim.user_kinds": "a46b319ec8223e35ef5597c50637b7079beeb3d70a59ca966f706ea3c3e7b336",
        "statements": "28894de1bb7351475e6dc68b132db0f16b69beaa10211fd7e532130734b98fa9",
        "result": "d1e2386d200a1022420347de41fb19e588d52e59c6fa2364d099f0445f0041d7",
        "chain_logs": "f9b5f2a2e7ba06e6e9850914b35c6f9dcd6d00dbcf29d30a5b4d217ea1b7ca9e",
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

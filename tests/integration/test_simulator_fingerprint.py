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
EXPECTED: dict[str, dict[str, str]] = {
    "two_days": {
        "intel.fraud_labels": "f535d891f38d1f41d91d0ac59da49a719752bd0d1566952caba8055504b4bde9",
        "marketplace.events": "7db65c3e640ec25eb6f38bf1dd6037b5d4b7ddaa0af93c5cb0f3376be92d3e67",
        "marketplace.login_attempts": "14cfa6a77c9d8d0d2d61293aa237132b93cd7e599fbd958807036d73dbbd77c1",
        "marketplace.orders": "98b0f453a245859f154ec3d89ba688eb37a7da7ac6350680958f055f30bb1657",
        "marketplace.sessions": "edf2e2528d8dfab546374b21f2ce8034284153d4bb9802d50f77ad62015e2a8a",
        "marketplace.tickets": "12f02254d5a50045c0c257e8292cc3dfbc265ee3c865e00a016cfdd45b0a46f1",
        "marketplace.users": "baba755ff5d54ff6d7bd976a3c5527538b0c29f092c255714016fa6a88969db9",
        "marketplace.wallets": "df9fde9a5916ff6c00e4a521d7aa1dede64d60b8d60085059f5ea5d184a403be",
        "sim.truth": "1d5141dbfc62d5959f379722ef010de07963d61ab2f324ecde9c89887e93d326",
        "sim.user_kinds": "0304f1263328dd9c3ccdecd47c3dbcc0f1c51ebb39599bc0610bfb002e2b6947",
        "statements": "fee17e176c05fab03f4f0ea980fef324c8e42e5903d9bc7acb1b5597a6ed1c84",
        "result": "ed435e0c8e1286169108c43bfba3817b5d065b9fe4fe8e2248c0e2e35f16452a",
        "chain_logs": "1df85337ceba18a4a43e15fabc397da8951f2581d77b448de92344ec771d5ce1",
    },
    "month": {
        "intel.fraud_labels": "6e5efa1176ecad56583edb3652924478c2bd215f6218f451548d7714d7ac495d",
        "marketplace.events": "4011a3e3cd94e7b1dd237acdc25bd74f7ce68c9ccdca17ebbf4013d1dd61467b",
        "marketplace.login_attempts": "84ee923aa970071910fa50efcdf5d85d74527ef84798e559741d26715fb73966",
        "marketplace.orders": "b7de1a89390d155893f6032cbf2501008d523d85a49dcc8424c869b3bc276648",
        "marketplace.sessions": "b8da1c7433b87b0a96cc9e4faa1bcb7ce319d3a73350cd9695548948e0e5f2f6",
        "marketplace.tickets": "1d21ae217d546b9f929a91bd2e486074fa9480f9852c28fd9a7f3f8281f90810",
        "marketplace.users": "67be0976a2851731cbf3e8490fddcab8555d0d987f6ce51cea7934bc87bfbaec",
        "marketplace.wallets": "df4b6093b55d677d4cf532596fd24a84edda7f2ab5eece6f4da3f6f2cf99b16a",
        "sim.truth": "f650d0320e537a14470b65bab77f11ec1cb4fd038b1b2f2993f86ab54ccba5bf",
        "sim.user_kinds": "94936e66d27da12d8eac8fc17404fe199d618526594add2ad97de23bd9f265e8",
        "statements": "2f4e0d956265d594b32ec39f2838c659a91e786ae83f4890ea6730f2298774c5",
        "result": "432a4590c4c46cb23c5bd8ed44daa4227f4f01ed91da57f5305df2f9734ce91d",
        "chain_logs": "2a3239c5a34d0fac049bf6e1d2653d66ca21ea2ae81f19d2e87497eee48837f2",
    },
    "short_and_fraudulent": {
        "intel.fraud_labels": "ec2f440cf7a0d156c8f78437c338db35c211d6bdd5a823293d7ba3a58a1b266a",
        "marketplace.events": "bc2b28d7e23eef19c5c5cdde0f9e3495818d41347332c455ddb6fd62908cfefa",
        "marketplace.login_attempts": "5e44680da6d7d5db221b79ff2314ba0e6cb19839b131cd31c2f48ba5959a978e",
        "marketplace.orders": "3712cf91286a5179d10dd4fa5210a4ca3aeb417fbe67914942de031167498b85",
        "marketplace.sessions": "101b9c87b0b79ea5ecf80d9feca851ab9c1f47275a01095a12dd460ba8effb16",
        "marketplace.tickets": "039c610a8f256c018a381d89a1b2c51f9a386001f4142f363c155bdb5c76b4b4",
        "marketplace.users": "e180fc2d43408703cb26ec29b8831fe1b9916f1575f825ebbe3817d2b3042bee",
        "marketplace.wallets": "1372e9ee9f4d915509162363e08f5d8ada3097cb64ec45eb5ae9c9879e371fa6",
        "sim.truth": "e4c949d1e1c2b9608e7c1be101c01e290bff43a76175bad349ad31b4eb90a634",
        "sim.user_kinds": "72d4337cf4cdab569d80867f5049620bb2ebf734733b200c531096a956bdb8f1",
        "statements": "6dcbd4516b98cf14e119e951da7e48a6a63822f5e7c6c89bae862045b4119cb5",
        "result": "0b8efdcf6e2a81cef376d80f06065a6b76938c8c317962155cc1cf5cc0e6f29e",
        "chain_logs": "781a128425467f187aab90d45692bf03711d5f24dc5b57c1bdf6d3f16716c822",
    },
    "honest": {
        "intel.fraud_labels": "5b7b93c8a34b3692c9f460795bdeba700bfc757d2fce59e403b47c36c7ec54fa",
        "marketplace.events": "c9ff7ebef2e8bd4ca7c622e7e841a1b42a734f565d7e980e1c6a823886973640",
        "marketplace.login_attempts": "c7b526ee21ddf2cd6915d5cf5f879feeba082fc0c77d3a6077549fc884dd96f7",
        "marketplace.orders": "fcc22d3f224eb4988c35965aed258479c27bfc32f5a751ea07f1c8ae9dbb1538",
        "marketplace.sessions": "303d7b39b32bc9efe89b371938935c2c7e50de731b2670b5bde1bb6ddca5b5f8",
        "marketplace.tickets": "57ceb522a68b6ac88aefc4cc1ba5ac7a41d29d1e67951b9f5cbe93c9641ba6a5",
        "marketplace.users": "a83a2f90bbd573523fa1c3f31daeb10a33596de84fcc5279cf14e513843a78e5",
        "marketplace.wallets": "df412004fc310898f4f57f3b9e090be982322f06177dacfa0283791afb69a76e",
        "sim.truth": "23c519e5d1ddceeff1c5ea6ec1bb190a7e20bbcdf8c384c16e04271eb002d730",
        "sim.user_kinds": "9cebb4ce2e7f7d4e239ddd60d857d5442a2a28cae45702a0268d88765c35f76e",
        "statements": "3b95d238eb14acc0ea2af97d023d32e357a188ee71b17cfc1589804a18e42295",
        "result": "59f601357eb627e31c22df2ce628851e5ae36db2e4479d8dff93de857bde32fc",
        "chain_logs": "8b990a1f71e12fe2319045ac1a5cbf839869f9679e211fb99ea99f47ec2ad642",
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

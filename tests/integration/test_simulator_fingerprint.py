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
EXPECTED: dict[str, dict[str, str]] = {
    "two_days": {
        "intel.fraud_labels": "2d36ec374af85abd71189945642e1fcb74ee266517d0ae8059a5c9adc83615d5",
        "marketplace.events": "018348335377f30bc3170e65af1c887ad54bc7fffb440d3c299ff9169acdec06",
        "marketplace.login_attempts": "acd8df05762219641496005ed585b1c4955c77ef1a477a6ccce97bb9787aebe2",
        "marketplace.orders": "07fd3d7ed2b631bbdd36fad76cb8e02cb8a0979318b75a82a9313b97f754de9a",
        "marketplace.sessions": "a5d4f246ebeb8030656b1c3dc12c5e430437710f32cbe3ce965ac485e68a90e2",
        "marketplace.tickets": "c1c951586011ea3c4edf806ea57e183f15db546ddc1f3ac645e1a9a7127cb3f1",
        "marketplace.users": "4ab11b75fe937a6c8857fa788151de42dc121697e0d21576eabb04777d836d65",
        "marketplace.wallets": "a1ee32a7ddda42f879710ecfa27d1500da2fd3e21990d3699efe8db6caa02ec7",
        "sim.truth": "eb38ab6a468e628e84bd4fc1d1b5114d389524b4a172e797ad3e5030c9968389",
        "sim.user_kinds": "d8ddb7af5c71de269d1fce6f92da162b1f0b511d6f3d0719808470b5ac1ea82b",
        "chain_logs": "38ebe2251559cfbbaca383faef075883e1490f45e60b314b4d9b933a93d0f2a9",
        "result": "073acc866e172a98181712f4a4e7263efa92aaec1d5fa2e62df9915a7e99ae70",
        "statements": "a3d7d50b0deaefd5e3ccc235bf582b21ee1c77884d5744dddf73b21d8df85673",
    },
    "month": {
        "intel.fraud_labels": "6e6db4117c7e7001c87ad7637faa6efc7e121593dfb03b04425e040af4fcf498",
        "marketplace.events": "a0f0b2bfaaabab33e207e4983eeaaaf255432c292b470aedbfc27420d351a7c4",
        "marketplace.login_attempts": "344df943edf3a8939190a1b73db92e5cca15ebebca562bd818e304bd8d808fe7",
        "marketplace.orders": "213b3d8029a9937df9d1d53ce9f20e6d7ac4ed085956acd001f49b33ffc44371",
        "marketplace.sessions": "5b564655e95c09567b9d8ed6e9abc3aa7e1bdf925b6644560115354f8a2e41b6",
        "marketplace.tickets": "8c55f668e9d0282d460fd8a910325c51bbc5b3bebe73e0cb4985dbf099bfae4f",
        "marketplace.users": "4ecd98e18ab33e22d45ab415560129bea30303be33e7ebd007d60a6f3185f807",
        "marketplace.wallets": "0c550fa6000d5f0d11b5ad99c400796b44fefa20eaee97944701c64c2e80311e",
        "sim.truth": "1275a70977d29da5b42af69efbcc6354efdf5659fa7c747226dfdbc9b50dfe5c",
        "sim.user_kinds": "f14b8d6f9c116c38bf3e380e09a6612106c04ccf23261dd39d0c5a80aeb69389",
        "chain_logs": "2f48c4042f846a4b6ae15abf5a5743054a6cd2f42335b6164c1b65e5bc419c5c",
        "result": "310b75f86ccdfa685d88a8f02a03165a287ff8ce3f28f940281262e42d13aac2",
        "statements": "4e50c137849f5eac89e43289d9bcad2debdc0f3631fe0af2788e12ec8e4352b7",
    },
    "short_and_fraudulent": {
        "intel.fraud_labels": "b20f3f87baa37a105a7a8b708de8567273558c638c1b805b484c736decb4027f",
        "marketplace.events": "3f99dacf2827da8836966100828c6db1322ecf23ffd239d71ffaa1c5a6c7d8bc",
        "marketplace.login_attempts": "4a5fb70ac08e8c5504264e218743538fc42e5e22e42efc928f7de90877a51afe",
        "marketplace.orders": "beb24cce5794da5f483fd52129c541afae2362a7008429aa7038c9485f301bf2",
        "marketplace.sessions": "7ed0b59666d07729dc7733656bc552bbd3568cf94b0912589ccea120a0b4123e",
        "marketplace.tickets": "e8ea658620cac38365083c6ba8c3e1ce91413d643aa2f66dda39f82dc1602b1f",
        "marketplace.users": "36d7ea4a06c15d719e3722f66dcbfa4dc8216aaf84fd3a632f1ee34d75ea345f",
        "marketplace.wallets": "22484b1603e136f0ce6092e4828db2b67837240a66e7f445462710c29b927e0a",
        "sim.truth": "be428afc68d6bdf40a0f8e91c89012e543a23a8f481116bd8a9c9110e9edeb5c",
        "sim.user_kinds": "9698ece4be1028f86c447b462e884e3bcd30f1f64b47ec47e9660baca5b9626a",
        "chain_logs": "f11fdadab52c43ae4bdf9f94cbedaa853fae492c95b74c752dc00f1536ed9400",
        "result": "23faee77300eee2c25a8841a18dc8d3025c7e52e8989b136414ecbebe76cd580",
        "statements": "d259d083ad887b19536f151782a6e4f4b860daf8d35f9f593a52ef10cba6f1d1",
    },
    "honest": {
        "intel.fraud_labels": "e4d5f53aa8f50d71557eeb797056306aaaf13396c2d564abe81cc71a2651595b",
        "marketplace.events": "6b021b826ba00adf1bd204ee81d904812be66c56088e0831cc0e2242468c4608",
        "marketplace.login_attempts": "3964dad05b6bde67159dc04c7b0e9edee53866fbf1d6fd014e694a50a3a75542",
        "marketplace.orders": "de3b372ad5a6449af1e936988c156e383b8aa0d3aab61fca01f124a166ce86ad",
        "marketplace.sessions": "9bf995c102151db6bf34c0aae76af743884f5843ab46c10702d9acdb2821598f",
        "marketplace.tickets": "f7e35565aafdd41cc48f35eea6a5ece5ad06ca29cba9eef28c78f7bd979b3343",
        "marketplace.users": "6c1354f188adb2d16941632a68b911cd65087933fdfa328dab562f59604e88ef",
        "marketplace.wallets": "e648ebaa5db111f9abbdf6c6bf443c9fb9c33b5a1642eae0809b2a3e9d86a60c",
        "sim.truth": "b71d953aac594439d86315612e11d0e51331321aaf8318bbf8971be51aeb5485",
        "sim.user_kinds": "0b0dd3491ec9f4c186599e8a88422b1e8a44bead191101ade246c4de38bc06dc",
        "chain_logs": "95158f4ea3e9d6bda3767092511e1c3fc36d84e01f48095bb3929cf2d739b2c1",
        "result": "ca05233a3ebfff1add99da83a8e965c0bc118f0bf02c3f41ce49af47b3051dee",
        "statements": "dfd961877f136a21ae1665dc1bfdb13d57adcc837a0cb91d5c4b968be78994d9",
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

"""A contract edited since its last build is rebuilt before any test runs it, and refused until then.

The artifacts record the hash of the sources they were compiled from (contracts/compile.mjs); the
loader (shared/chain/artifacts.py) recomputes it and refuses a stale build; the test fixture rebuilds.
Without this, the reentrancy guard could be removed from the source while the contract tests kept
running the old bytecode, guard included, and passed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shared.chain.artifacts import load_artifact, source_hash, stale_reason
from shared.errors import ConfigurationError
from tests.fixtures.chain import ROOT, ensure_contracts_built

pytestmark = pytest.mark.xdist_group("solc")  # each compile is seconds of solc-js


@pytest.fixture
def contracts_copy(contract_artifacts: Path, tmp_path: Path) -> Path:
    """A copy of the repository's contracts/ with its current build, solc from the same node_modules."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "contracts", repo / "contracts")
    (repo / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)
    return repo / "contracts"


def _without_reentrancy_guard(contracts_dir: Path) -> None:
    source = contracts_dir / "TicketMarket.sol"
    text = source.read_text()
    assert text.count(" nonReentrant {") >= 3
    source.write_text(text.replace(" nonReentrant {", " {"))


def test_given_the_build_then_it_records_the_hash_of_its_sources(contract_artifacts: Path) -> None:
    expected = source_hash(ROOT / "contracts")
    for name in ("TicketMarket", "ReentrancyAttacker"):
        assert json.loads((contract_artifacts / f"{name}.json").read_text())["sourceHash"] == expected
        assert stale_reason(name) is None


def test_given_a_source_edited_after_the_build_when_loaded_then_refused_as_stale(
    contracts_copy: Path,
) -> None:
    build = contracts_copy / "build"
    assert stale_reason("TicketMarket", build) is None
    load_artifact("TicketMarket", build)
    # When the reentrancy guard is removed from the source and the old build is kept
    _without_reentrancy_guard(contracts_copy)
    # Then the build is stale, and the loader refuses it, saying how to rebuild
    assert "built from other sources" in (stale_reason("TicketMarket", build) or "")
    with pytest.raises(ConfigurationError, match=r"built from other sources.*make contracts"):
        load_artifact("TicketMarket", build)


@pytest.mark.parametrize("edit", ["source", "build script", "no hash"])
def test_given_a_stale_build_when_the_fixture_runs_then_it_rebuilds(contracts_copy: Path, edit: str) -> None:
    build = contracts_copy / "build"
    old = json.loads((build / "TicketMarket.json").read_text())
    # Given a build that no longer matches: an edited contract, an edited build script, or an
    # artifact from before the hash was recorded
    if edit == "source":
        _without_reentrancy_guard(contracts_copy)
    elif edit == "build script":
        script = contracts_copy / "compile.mjs"
        script.write_text(script.read_text() + "\n// edited\n")
    else:
        for path in build.glob("*.json"):
            body = json.loads(path.read_text())
            del body["sourceHash"]
            path.write_text(json.dumps(body))
    assert stale_reason("TicketMarket", build) is not None
    # When the contracts fixture's check runs
    ensure_contracts_built(contracts_copy)
    # Then the artifacts are rebuilt from the sources at hand, and load
    new = json.loads((build / "TicketMarket.json").read_text())
    assert new["sourceHash"] == source_hash(contracts_copy)
    assert stale_reason("TicketMarket", build) is None and stale_reason("ReentrancyAttacker", build) is None
    assert load_artifact("TicketMarket", build).bytecode == new["bytecode"]
    if edit == "source":  # the unguarded contract is other bytecode
        assert new["bytecode"] != old["bytecode"]


def test_given_a_packaged_build_without_sources_then_it_loads_unchecked(
    contract_artifacts: Path, tmp_path: Path
) -> None:
    # A layout with the build but no contracts/ beside it (TG_CONTRACTS_BUILD_DIR): nothing to compare
    packaged = tmp_path / "opt" / "build"
    shutil.copytree(contract_artifacts, packaged)
    assert stale_reason("TicketMarket", packaged) is None
    assert load_artifact("TicketMarket", packaged).abi

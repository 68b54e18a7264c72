"""Compiled contract artifacts (`make contracts` writes contracts/build/<Name>.json).

Each artifact records the hash of the sources it was built from (`sourceHash`, written by
contracts/compile.mjs). Where the sources are at hand (contracts/ next to the build directory, as in
the repository), an artifact whose hash is not the sources' own is refused: a contract edited since
the last build must be rebuilt, never run or tested in its old form."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.config import get_settings
from shared.errors import ConfigurationError

# The repository root holds contracts/; TG_CONTRACTS_BUILD_DIR overrides it (packaged layouts).
_DEFAULT_BUILD_DIR = Path(__file__).resolve().parents[2] / "contracts" / "build"
BUILD_SCRIPT = "compile.mjs"
REBUILD_HINT = "run `make contracts` (node contracts/compile.mjs)"


@dataclass(frozen=True)
class ContractArtifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-prefixed creation code


def build_dir() -> Path:
    override = get_settings().contracts_build_dir
    return Path(override) if override else _DEFAULT_BUILD_DIR


def source_files(contracts_dir: Path) -> list[Path]:
    """What a build is made from, in compile.mjs's order: contracts/*.sol, contracts/test/*.sol (each
    sorted by name), then compile.mjs itself."""
    return [
        *sorted(p for p in contracts_dir.glob("*.sol") if p.is_file()),
        *sorted(p for p in (contracts_dir / "test").glob("*.sol") if p.is_file()),
        contracts_dir / BUILD_SCRIPT,
    ]


def source_hash(contracts_dir: Path) -> str:
    """The hash compile.mjs records: per file, its path relative to the repository, NUL, its bytes, NUL."""
    digest = hashlib.sha256()
    root = contracts_dir.parent
    for path in source_files(contracts_dir):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return f"sha256:{digest.hexdigest()}"


def _sources_of(directory: Path) -> Path | None:
    """The contracts/ directory a build directory was compiled from, when it is at hand."""
    contracts_dir = directory.resolve().parent
    return contracts_dir if (contracts_dir / BUILD_SCRIPT).is_file() else None


def stale_reason(name: str = "TicketMarket", directory: Path | None = None) -> str | None:
    """Why the artifact cannot be used as it is (missing, unreadable, or built from other sources than
    those at hand), or None when it can."""
    directory = directory or build_dir()
    path = directory / f"{name}.json"
    try:
        recorded = json.loads(path.read_text()).get("sourceHash")
    except FileNotFoundError:
        return f"contract artifact {path} is missing"
    except (json.JSONDecodeError, AttributeError) as exc:
        return f"contract artifact {path} is not a JSON object: {exc}"
    contracts_dir = _sources_of(directory)
    if contracts_dir is None:
        return None  # a packaged build without its sources: nothing to compare with
    current = source_hash(contracts_dir)
    if recorded != current:
        return (
            f"contract artifact {path} was built from other sources than {contracts_dir}'s "
            f"(recorded {recorded or 'no sourceHash'}, the sources hash to {current})"
        )
    return None


@lru_cache(maxsize=8)
def _load(path: Path, _version: tuple[int, int]) -> ContractArtifact:
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"contract artifact {path} is missing: {REBUILD_HINT}") from None
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"contract artifact {path} is not valid JSON: {exc}") from None
    abi, bytecode = body.get("abi"), body.get("bytecode")
    if not isinstance(abi, list) or not isinstance(bytecode, str) or not bytecode.startswith("0x"):
        raise ConfigurationError(f"contract artifact {path} lacks an 'abi' list or a 0x 'bytecode'")
    return ContractArtifact(name=path.stem, abi=abi, bytecode=bytecode)


def load_artifact(name: str = "TicketMarket", directory: Path | None = None) -> ContractArtifact:
    """The artifact; ConfigurationError when it is missing or stale (built from other sources)."""
    directory = directory or build_dir()
    reason = stale_reason(name, directory)
    if reason is not None:
        raise ConfigurationError(f"{reason}: {REBUILD_HINT}")
    path = directory / f"{name}.json"
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ConfigurationError(f"contract artifact {path} is missing: {REBUILD_HINT}") from None
    return _load(path, (stat.st_mtime_ns, stat.st_size))


def ticket_market_abi() -> list[dict[str, Any]]:
    return load_artifact("TicketMarket").abi

"""Compiled contract artifacts (`make contracts` writes contracts/build/<Name>.json)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.errors import ConfigurationError

# The repository root holds contracts/; TG_CONTRACTS_BUILD_DIR overrides it (packaged layouts).
_DEFAULT_BUILD_DIR = Path(__file__).resolve().parents[2] / "contracts" / "build"


@dataclass(frozen=True)
class ContractArtifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-prefixed creation code


def build_dir() -> Path:
    override = os.environ.get("TG_CONTRACTS_BUILD_DIR")
    return Path(override) if override else _DEFAULT_BUILD_DIR


@lru_cache(maxsize=8)
def _load(path: Path) -> ContractArtifact:
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(
            f"contract artifact {path} is missing: run `make contracts` (node contracts/compile.mjs)"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"contract artifact {path} is not valid JSON: {exc}") from None
    abi, bytecode = body.get("abi"), body.get("bytecode")
    if not isinstance(abi, list) or not isinstance(bytecode, str) or not bytecode.startswith("0x"):
        raise ConfigurationError(f"contract artifact {path} lacks an 'abi' list or a 0x 'bytecode'")
    return ContractArtifact(name=path.stem, abi=abi, bytecode=bytecode)


def load_artifact(name: str = "TicketMarket", directory: Path | None = None) -> ContractArtifact:
    return _load((directory or build_dir()) / f"{name}.json")


def ticket_market_abi() -> list[dict[str, Any]]:
    return load_artifact("TicketMarket").abi

"""Package attributes loaded on first use (PEP 562), for the packages whose public names live in
modules with heavy imports (web3, the EVM): importing the package, or one light module of it, must
not pay for the others."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, homes: Mapping[str, str], aliases: Mapping[str, str] | None = None
) -> Callable[[str], Any]:
    """A module `__getattr__`: `homes` maps each public name to the submodule defining it;
    `aliases` maps another public name to one of those."""

    def attribute(name: str) -> Any:
        target = (aliases or {}).get(name, name)
        module = homes.get(target)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), target)

    return attribute

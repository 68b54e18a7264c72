"""Cold start: submodules that a dependency imports eagerly and the Lambda functions never use, made
to load on first use instead (issue 29: a cold start pays every import before its first request).

`redis/__init__.py` imports `redis.asyncio` (about a tenth of the scoring function's import time on
the base commit) though every client here is synchronous. `defer("redis.asyncio")` puts a stand-in
in `sys.modules` before redis is imported; the first attribute read from it (`redis.asyncio.Redis`,
`from redis.asyncio import Redis`, `import redis.asyncio.client`) imports the real module and the
stand-in takes on its contents. Nothing is hidden from the import contracts: no module of this
project imports redis.asyncio at all.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any


class _Deferred(types.ModuleType):
    """A module not imported yet. `__spec__` is None (a plain ModuleType's), so the import system
    hands the stand-in out as it is; any other missing attribute imports the real module."""

    def __getattr__(self, item: str) -> Any:
        if not item.startswith("__") and importlib.util.find_spec(f"{self.__name__}.{item}") is not None:
            # a submodule (`from redis.asyncio import _himport_exec` inside the asynchronous client):
            # imported alone, so a submodule imported before the package never imports it half-way
            return importlib.import_module(f"{self.__name__}.{item}")
        return getattr(self._load(), item)

    def __dir__(self) -> list[str]:
        return dir(self._load())

    def _load(self) -> types.ModuleType:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return module


def defer(name: str) -> None:
    """Load the package `name` on first use, unless it is imported already. Its submodules stay
    importable on their own (`__path__` is the package's): redis's synchronous commands import
    `redis.asyncio.observability` without needing the asynchronous client."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name.partition(".")[0])
    if spec is None or not spec.submodule_search_locations:
        return
    stand_in = _Deferred(name)
    stand_in.__path__ = [
        str(Path(location, *name.split(".")[1:])) for location in spec.submodule_search_locations
    ]
    sys.modules[name] = stand_in

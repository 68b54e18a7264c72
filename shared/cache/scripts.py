"""Lua scripts, run by their SHA-1 (EVALSHA) and loaded on a server that does not know them yet.

A script's SHA is computed once per process; a Redis that restarted or failed over answers NOSCRIPT
once, after which the script is loaded and called again. SHA-1 because that is how Redis names
scripts, not for security.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis


@dataclass(frozen=True, slots=True)
class LuaScript:
    text: str
    sha: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.text.encode(), usedforsecurity=False).hexdigest())

    def run(self, client: redis.Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """One call on its own (one round trip; two more the first time a server meets it)."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            client.script_load(self.text)
            return client.evalsha(self.sha, len(keys), *keys, *args)

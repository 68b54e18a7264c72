"""What PostgreSQL can store as text: no NUL (U+0000: `text` and `jsonb` refuse it, escaped or not)
and no lone surrogate (U+D800-U+DFFF: not encodable as UTF-8). Checked at the edge, in keys and in
values, so that a write never fails on what an event contains; and applied to every message we build
from what a caller sent (a rejection's field and reason), so that the message itself is storable."""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A malicious nesting depth is refused by the JSON parsers long before this; the walk stays iterative.
_MAX_ITEMS = 1_000_000


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored as PostgreSQL text (None: it can)."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains the NUL character (U+0000), which PostgreSQL text cannot hold"
    return f"contains a lone surrogate (U+{ord(found.group()):04X}), which is not valid Unicode text"


def printable(text: str) -> str:
    """`text` with every unstorable character written as its JSON escape (\\u0000, \\ud800)."""
    return _UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def first_unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first key or string value anywhere in a JSON value that cannot be stored: (its path, why),
    the path written with storable text only (`data.a\\u0000b`)."""
    stack: list[tuple[str, Any]] = [(path, value)]
    seen = 0
    while stack and seen < _MAX_ITEMS:
        where, item = stack.pop()
        seen += 1
        if isinstance(item, str):
            problem = unstorable(item)
            if problem is not None:
                return where, problem
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                name = str(key)
                inner = f"{where}.{printable(name)}" if where else printable(name)
                problem = unstorable(name)
                if problem is not None:
                    return inner, f"the key {problem}"
                children.append((inner, child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(
                reversed([(f"{where}.{i}" if where else str(i), child) for i, child in enumerate(item)])
            )
    return None

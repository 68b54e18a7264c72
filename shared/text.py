"""What PostgreSQL can store as text: no NUL (U+0000: `text` and `jsonb` refuse it, escaped or not)
and no lone surrogate (U+D800-U+DFFF: not encodable as UTF-8). Checked at the edge, in keys and in
values, so that a write never fails on what an event contains; and applied to every message we build
from what a caller sent (a rejection's field and reason), so that the message itself is storable."""

from __future__ import annotations

import json
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


# How json.dumps (ensure_ascii) writes the characters above: a cheap screen, in C, before a walk.
_ESCAPED = re.compile(r"\\u(?:0000|d[89a-f])")


def first_unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first key or string value anywhere in a JSON value that cannot be stored: (its path, why),
    the path written with storable text only (`data.a\\u0000b`)."""
    try:
        if _ESCAPED.search(json.dumps(value)) is None:
            return None  # nothing to find (the screen may pass an escaped backslash; the walk decides)
    except (TypeError, ValueError):
        pass  # not plain JSON data: walk it
    stack: list[tuple[tuple[str, ...], Any]] = [((path,) if path else (), value)]
    seen = 0
    while stack and seen < _MAX_ITEMS:
        where, item = stack.pop()
        seen += 1
        if isinstance(item, str):
            problem = unstorable(item)
            if problem is not None:
                return _joined(where), problem
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                name = str(key)
                problem = unstorable(name)
                if problem is not None:
                    return _joined((*where, name)), f"the key {problem}"
                children.append(((*where, name), child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(reversed([((*where, str(i)), child) for i, child in enumerate(item)]))
    return None


def _joined(parts: tuple[str, ...]) -> str:
    return ".".join(printable(part) for part in parts)

"""What PostgreSQL can store as text (shared/text.py): NUL and lone surrogates found in any key or value,
named by a path written storable; the text "\\u0000" itself (a backslash, a u, four zeros) is fine."""

from __future__ import annotations

import pytest

from shared.text import first_unstorable, printable


@pytest.mark.parametrize(
    ("value", "path", "says"),
    [
        ({"a": "x\x00"}, "a", "NUL"),
        ({"a\x00b": 1}, "a\\u0000b", "the key contains the NUL"),
        ({"a": ["ok", {"b": "\ud800"}]}, "a.1.b", "lone surrogate (U+D800)"),
        ({"\udfff": 1}, "\\udfff", "lone surrogate (U+DFFF)"),
    ],
)
def test_given_text_postgresql_cannot_hold_then_its_path_and_why(value: object, path: str, says: str) -> None:
    found = first_unstorable(value)
    assert found is not None and found[0] == path and says in found[1]
    assert "\x00" not in found[0] and printable(found[0]) == found[0]


@pytest.mark.parametrize("value", [{"a": "\\u0000"}, {"a": "😀 é"}, {"a": [1, None, True, 2.5]}, {}])
def test_given_storable_text_then_nothing_is_found(value: object) -> None:
    assert first_unstorable(value) is None

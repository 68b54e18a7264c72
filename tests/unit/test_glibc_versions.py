"""The glibc check of the compiled model libraries compares versions as numbers: "2.4" is older than
"2.34" (as strings it sorts after it), "2.100" newer (as strings it sorts before)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training import compile as native


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("2.34", (2, 34)), ("2.4", (2, 4)), ("2.3.4", (2, 3, 4)), ("GLIBC_2.17", (2, 17)), (" 2.28 ", (2, 28))],
)
def test_a_version_parses_to_numbers(text: str, parsed: tuple[int, ...]) -> None:
    assert native.glibc_version(text) == parsed


@pytest.mark.parametrize("text", ["", "2.x", "2..34", "v2.34", "2.34-rc1"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a glibc version"):
        native.glibc_version(text)


@pytest.mark.parametrize(
    ("version", "allowed"),
    [
        ("2.4", True),  # "2.4" > "2.34" as strings
        ("2.17", True),
        ("2.3.4", True),
        ("2.34", True),
        ("2.34.1", False),
        ("2.35", False),
        ("2.100", False),  # "2.100" < "2.34" as strings
        ("3.0", False),
        ((2, 4), True),
        ((2, 38), False),
    ],
)
def test_lambda_takes_libraries_needing_at_most_glibc_2_34(
    version: str | tuple[int, ...], allowed: bool
) -> None:
    assert native.MAX_GLIBC == (2, 34)  # Amazon Linux 2023, the python3.12 runtime
    assert native.glibc_allowed(version) is allowed


def test_the_requirement_of_a_library_is_its_highest_symbol_version_by_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listing = "\n".join(
        f"    {n}: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND sym{n}@GLIBC_{v} (3)"
        for n, v in enumerate(["2.4", "2.17", "2.2.5", "2.33", "2.14"])
    )
    monkeypatch.setattr(native.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(native, "_run", lambda command, what: listing)
    needed = native.glibc_requirement(Path("libtgmodel-x86_64.so"))
    assert needed == (2, 33)
    assert native.glibc_allowed(needed)

"""The README's capability table points at files that exist: a move that forgets it fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _table_paths() -> list[str]:
    text = (ROOT / "README.md").read_text()
    table = text.split("**Where each capability lives**", 1)[1].split("\n\n", 2)[1]
    paths: list[str] = []
    for row in table.splitlines()[2:]:
        cell = row.split("|")[2]
        last_dir = ""
        for name in re.findall(r"`([^`]+)`", cell):
            if " " in name:  # a command, not a path
                continue
            if "/" in name:
                last_dir = name.rsplit("/", 1)[0] if "." in name.rsplit("/", 1)[1] else name.rstrip("/")
                paths.append(name)
            else:  # a sibling of the last path named in the cell
                paths.append(f"{last_dir}/{name}")
    return paths


def test_given_the_readme_capability_table_when_read_then_every_file_it_names_exists() -> None:
    paths = _table_paths()
    assert len(paths) > 30
    missing = []
    for path in paths:
        if "{" in path:  # functions/{a,b}: each
            head, rest = path.split("{", 1)
            names, tail = rest.split("}", 1)
            candidates = [f"{head}{name}{tail}" for name in names.split(",")]
        else:
            candidates = [path]
        missing += [c for c in candidates if not (ROOT / c).exists()]
    assert missing == []

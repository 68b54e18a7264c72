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


README_MAX_LINES = 200  # an entry a newcomer reads top to bottom; the reference lives in docs/


def test_given_the_readme_then_it_stays_an_entry_of_at_most_200_lines() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines: move reference into docs/"


def test_given_the_readme_and_docs_then_every_relative_link_names_a_file_that_exists() -> None:
    # Given the README and every page under docs/ (pages moved there must not keep links relative to root)
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for document in documents:
        for target in re.findall(r"\]\(([^)\s]+)\)", document.read_text()):
            if target.startswith(("http://", "https://", "mailto:", "#")):
                continue
            path = target.split("#", 1)[0]
            # Then each resolves from the document's own folder
            if path and not (document.parent / path).exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert len(documents) >= 6
    assert broken == []

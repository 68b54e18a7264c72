"""`ticketguard model ...` on a registry directory: each step one command, the state as JSON, a refusal
as one line and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.model.manifest import MANIFEST_NAME
from tooling.cli import main as ticketguard


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    for version in ("v1", "v2"):
        (tmp_path / version).mkdir()
        (tmp_path / version / MANIFEST_NAME).write_text("{}")
    (tmp_path / "CURRENT").write_text("v1\n")
    return tmp_path


def run(registry: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = ticketguard(["model", "--registry", str(registry), *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else {}


def test_given_a_registry_when_canary_promote_and_rollback_run_then_each_is_one_command(
    registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, state = run(registry, capsys, "canary", "v2", "--weight", "0.2")
    assert code == 0 and (state["served"], state["candidate"], state["mode"], state["weight"]) == (
        "v1",
        "v2",
        "canary",
        0.2,
    )
    code, state = run(registry, capsys, "promote")
    assert code == 0 and (state["served"], state["candidate"]) == ("v2", None)
    code, state = run(registry, capsys, "rollback", "--reason", "bad night")
    assert code == 0 and state["served"] == "v1" and state["history"][-1]["reason"] == "bad night"
    assert (registry / "CURRENT").read_text() == "v1\n"


def test_given_an_unknown_version_when_shadowed_then_one_line_and_exit_1(
    registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ticketguard(["model", "--registry", str(registry), "shadow", "v9"]) == 1
    assert capsys.readouterr().err.strip() == f"ticketguard model: no model version v9 in {registry}"

"""`ticketguard` registers a command only when its module exists (without importing the heavy ones:
tests/integration/test_cli_commands.py imports each)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from tooling.cli import COMMANDS, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_given_a_registered_command_then_its_module_exists_and_defines_its_function(name: str) -> None:
    module, _, function = COMMANDS[name][0].partition(":")
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"ticketguard {name}: no module {module}"
    tree = ast.parse(Path(spec.origin).read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert function in defined, f"ticketguard {name}: {module} defines no {function}()"


@pytest.mark.parametrize("name", ["no-such-command"])
def test_given_a_command_whose_module_does_not_exist_yet_when_run_then_it_is_unknown(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([name]) == 2
    assert f"unknown command {name!r}" in capsys.readouterr().err

"""Every `ticketguard` command's module imports, with the function the CLI calls."""

from __future__ import annotations

import importlib

import pytest

from tooling.cli import COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_given_a_registered_command_when_its_module_is_imported_then_its_function_is_callable(
    name: str,
) -> None:
    module, _, function = COMMANDS[name][0].partition(":")
    assert callable(getattr(importlib.import_module(module), function))

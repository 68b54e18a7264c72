"""Skips that could hide a regression: a test skips only for a missing environment, says so loudly,
and fails instead in CI, which `.ci/run` marks with CI and where `make test` builds everything the
suite needs (the model toolchain, the layers, checkov's venv)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.environment import SKIP_PREFIX, MissingEnvironment, in_ci, missing_environment
from tests.fixtures.ml import require_tool

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def _no_skip() -> Iterator[None]:
    """A skip where a failure is due fails this test (a skip raised here would skip it, unseen)."""
    try:
        yield
    except pytest.skip.Exception as skipped:
        raise AssertionError(f"skipped in CI instead of failing: {skipped}") from None


def test_given_a_dev_machine_when_something_is_missing_then_it_skips_with_a_warning_and_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with (
        pytest.warns(MissingEnvironment, match="the thing is missing; make thing"),
        pytest.raises(pytest.skip.Exception) as skipped,
    ):
        missing_environment("the thing is missing", "make thing")
    assert str(skipped.value).startswith(SKIP_PREFIX)


@pytest.mark.parametrize("value", ["true", "1", "yes", "True"])
def test_given_ci_when_something_is_missing_then_the_test_fails(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()
    with pytest.raises(pytest.fail.Exception, match="the thing is missing"), _no_skip():
        missing_environment("the thing is missing", "make thing")


def test_given_ci_when_a_model_tool_is_missing_then_the_model_tests_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="qemu-aarch64"), _no_skip():
        require_tool("gcc", "qemu-aarch64")


def test_given_the_ci_script_then_it_marks_the_run_as_ci_before_the_suite() -> None:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    exports = [i for i, line in enumerate(lines) if line.startswith("export CI=")]
    [suite] = [i for i, line in enumerate(lines) if line == "make test"]
    assert exports and exports[0] < suite
    result = subprocess.run(
        ["bash", "-c", 'eval "$(grep "^export CI=" .ci/run)"; echo "$CI"'],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "CI"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "true"


def test_given_a_fresh_clone_then_make_test_builds_the_layers_and_checkovs_venv_before_the_suite() -> None:
    make = shutil.which("make")
    if make is None:
        missing_environment("no make on PATH", "install make (`make test` itself needs it)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}
    plan = subprocess.run(
        [make, "--dry-run", "--always-make", "--no-print-directory", "test"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    [suite] = [i for i, line in enumerate(plan) if "-m pytest" in line]
    [layers] = [i for i, line in enumerate(plan) if "layers/build.py --arch all" in line]
    [checkov] = [i for i, line in enumerate(plan) if "checkov==" in line]
    assert layers < suite and checkov < suite

"""Bytecode shipped with the Lambda packages (layers/bytecode.py): compiled by the runtime's Python,
unchecked-hash, and used by an import from a read-only directory whose files carry a zip's mtimes."""

from __future__ import annotations

import marshal
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from layers import bytecode

pytestmark = pytest.mark.xdist_group("infra")

THIS_VERSION = sys.version_info[:2]
THIS_TAG = sys.implementation.cache_tag
ZIP_EPOCH = 315_532_800  # 1980-01-01, the earliest time a zip entry can hold
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


def _tree(root: Path) -> Path:
    package = root / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "mod.py").write_text("ANSWER = 42\n")
    return package


def _lambda_like_environment(task_root: Path) -> dict[str, str]:
    """No bytecode written, and none looked for elsewhere (a PYTHONPYCACHEPREFIX, which Lambda does not
    set, would make the interpreter ignore every __pycache__)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPYCACHEPREFIX"}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(task_root)}


def _flags(pyc: Path) -> int:
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def test_given_a_tree_when_compiled_then_each_module_has_an_unchecked_hash_pyc_beside_it(tmp_path):
    # Given a package of three modules
    package = _tree(tmp_path / "src")
    # When it is compiled by this interpreter, with a cache
    report = bytecode.compile_tree(
        package.parent, Path(sys.executable), version=THIS_VERSION, cache=tmp_path / "cache"
    )
    # Then each module has its pyc where the import system looks, unchecked-hash
    modules = sorted(package.rglob("*.py"))
    pycs = [bytecode.pyc_path(module, THIS_TAG) for module in modules]
    assert all(pyc.is_file() for pyc in pycs)
    assert {_flags(pyc) for pyc in pycs} == {UNCHECKED_HASH}
    assert (report.compiled, report.cached, report.failed) == (3, 0, [])


def test_given_a_package_with_a_zips_mtimes_in_a_read_only_directory_when_imported_then_its_bytecode_is_used(
    tmp_path,
):
    # Given a compiled package whose files then get the mtime a zip gives them, in read-only directories
    package = _tree(tmp_path / "task")
    bytecode.compile_tree(package.parent, Path(sys.executable), version=THIS_VERSION, cache=None)
    everything = sorted(package.parent.rglob("*"), reverse=True)  # files before their directories
    for path in everything:
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH))
    for path in everything:
        path.chmod(stat.S_IRUSR | stat.S_IXUSR if path.is_dir() else stat.S_IRUSR)
    try:
        # When a fresh interpreter that writes no bytecode imports it (as Lambda's read-only /var/task)
        result = subprocess.run(
            [sys.executable, "-v", "-c", "import pkg.sub.mod as m; print(m.ANSWER)"],
            cwd=package.parent, capture_output=True, text=True, check=True,
            env=_lambda_like_environment(package.parent),
        )  # fmt: skip
    finally:
        for path in everything:
            path.chmod(stat.S_IRWXU)
    # Then the module's code came from its pyc, not from compiling the source
    assert result.stdout.strip() == "42"
    mod_pyc = bytecode.pyc_path(package / "sub" / "mod.py", THIS_TAG)
    assert f"code object from '{mod_pyc}'" in result.stderr


def test_given_the_cache_when_a_second_tree_has_the_same_module_then_it_is_not_compiled_again(tmp_path):
    # Given one tree compiled with a cache
    cache = tmp_path / "cache"
    bytecode.compile_tree(
        _tree(tmp_path / "one").parent, Path(sys.executable), version=THIS_VERSION, cache=cache
    )
    # And a second tree with the same modules, one of them changed
    second = _tree(tmp_path / "two")
    (second / "sub" / "mod.py").write_text("ANSWER = 43\n")
    # When it is compiled with the same cache
    report = bytecode.compile_tree(second.parent, Path(sys.executable), version=THIS_VERSION, cache=cache)
    # Then only the changed module was compiled, and its pyc is its own source's
    assert (report.compiled, report.cached) == (1, 2)
    namespace: dict[str, object] = {}
    exec(marshal.loads(bytecode.pyc_path(second / "sub" / "mod.py", THIS_TAG).read_bytes()[16:]), namespace)
    assert namespace["ANSWER"] == 43


def test_given_a_module_that_does_not_compile_then_it_is_left_as_source_and_named(tmp_path):
    # Given a tree with a module of a syntax this Python does not accept (as some packages ship)
    package = _tree(tmp_path / "src")
    (package / "broken.py").write_text("print 'python 2'\n")
    # When it is compiled
    report = bytecode.compile_tree(
        package.parent, Path(sys.executable), version=THIS_VERSION, cache=tmp_path / "cache"
    )
    # Then the others have their bytecode, and it is named without a pyc
    assert [name for name, _ in report.failed] == ["pkg/broken.py"]
    assert not bytecode.pyc_path(package / "broken.py", THIS_TAG).exists()
    assert bytecode.pyc_path(package / "sub" / "mod.py", THIS_TAG).is_file()
    assert "1 left as source" in report.summary()


def test_given_an_interpreter_of_another_version_when_compiling_then_it_is_refused(tmp_path):
    # Given this interpreter, asked for another minor version's bytecode
    other = (THIS_VERSION[0], THIS_VERSION[1] + 1)
    # When it compiles, then it refuses: a pyc with the wrong tag would never be looked at
    with pytest.raises(RuntimeError, match=f"writes {THIS_TAG} bytecode"):
        bytecode.compile_tree(_tree(tmp_path / "src").parent, Path(sys.executable), version=other, cache=None)


def test_given_the_environment_names_an_interpreter_then_it_is_found_first_and_a_broken_one_is_passed_over(
    tmp_path, monkeypatch
):
    # Given RUNTIME_PYTHON names this interpreter
    bytecode.find_interpreter.cache_clear()
    monkeypatch.setenv(bytecode.INTERPRETER_ENV, sys.executable)
    try:
        # Then it is the first candidate, and it is found for its version
        assert next(bytecode.candidates(THIS_VERSION)) == Path(sys.executable)
        assert bytecode.find_interpreter(THIS_VERSION) == Path(sys.executable)
        # And a candidate that does not run (a pyenv shim of an unselected version) has no version
        shim = tmp_path / "python3.99"
        shim.write_text("#!/bin/sh\necho 'pyenv: python3.99: command not found' >&2\nexit 127\n")
        shim.chmod(0o755)
        assert bytecode.version_of(shim) is None
    finally:
        bytecode.find_interpreter.cache_clear()


def test_given_no_runtime_interpreter_when_compiling_for_the_runtime_then_it_warns_and_ships_source(
    tmp_path, monkeypatch, capsys
):
    # Given no Python of the runtime's version can be found
    bytecode.find_interpreter.cache_clear()
    monkeypatch.setattr(bytecode, "candidates", lambda version: iter([]))
    monkeypatch.setattr(bytecode, "_WARNED", set())
    try:
        # When two trees are compiled for the runtime (a synth stages every function)
        package = _tree(tmp_path / "src")
        second = _tree(tmp_path / "second")
        assert bytecode.compile_for_runtime(package.parent, "the test package", cache=None) is None
        assert bytecode.compile_for_runtime(second.parent, "the second package", cache=None) is None
    finally:
        bytecode.find_interpreter.cache_clear()
    # Then nothing was written, and one warning says what ships without bytecode and how to get one
    assert not list(tmp_path.rglob("*.pyc"))
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "the test package and every package after it ship without bytecode" in warnings[0]
    assert "uv python install {}.{}".format(*bytecode.RUNTIME_VERSION) in warnings[0]


def test_given_the_stacks_runtime_then_the_bytecode_is_compiled_for_its_version():
    # Given the functions' runtime in the stacks (a bump there must bring the bytecode's version along:
    # a pyc of another version is never read, and every cold start would compile again)
    from infra.functions import RUNTIME

    # Then the bytecode's version is the runtime's
    assert RUNTIME.name == "python{}.{}".format(*bytecode.RUNTIME_VERSION)

"""Bytecode for the Lambda runtime, compiled before the deploy instead of at every cold start.

Lambda's /var/task and /opt are read-only. A module shipped as source alone is compiled each time a
new environment imports it, and the result cannot be written back: every cold start of the scoring
function compiled its whole import tree, about two thirds of its import time (`make bench-coldstart`,
"as deployed": 832 ms without the bytecode, 283 ms with it, one run). So the function packages and
the dependencies layer carry, beside each `.py`, its `__pycache__/<name>.cpython-312.pyc`:

- **compiled by Python 3.12**, the runtime's version (`RUNTIME_VERSION`, held to the stacks' runtime by
  a test): bytecode is specific to a minor version, and a file with another version's tag is never read;
- **unchecked-hash** (PEP 552): a timestamp pyc is stale as soon as the source's mtime differs from the
  one recorded, and an asset's zip does not keep mtimes; an unchecked-hash pyc is used as it is. The
  package is immutable once published, so nothing can make it stale;
- **no mtime in the file**: with the per-module cache, an unchanged source gives the same asset hash on
  one machine (another machine's Python may marshal a module differently).

The interpreter is found (`find_interpreter`), not installed: `RUNTIME_PYTHON`, then the running one,
`python3.12` on PATH, uv's (`uv python find`), pyenv's. Without one the packages ship as source, as
before, with a warning that says how to get one (`uv python install 3.12`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_VERSION = (3, 12)
INTERPRETER_ENV = "RUNTIME_PYTHON"
CACHE_DIR = ROOT / "build" / "bytecode"
_VERSION = re.compile(r"^(\d+)\.(\d+)$")

# Run by the runtime's interpreter: compiles each (source, destination, name in tracebacks) it is given on
# stdin, as unchecked-hash pycs, and prints the ones that failed (a third-party file with a syntax of
# another Python, say) and its cache tag.
_COMPILER = """
import json, py_compile, sys
failed = []
for source, destination, display in json.load(sys.stdin):
    try:
        py_compile.compile(source, cfile=destination, dfile=display, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except (py_compile.PyCompileError, SyntaxError, ValueError) as error:
        failed.append([display, str(error).strip().splitlines()[-1][:200]])
json.dump({"tag": sys.implementation.cache_tag, "failed": failed}, sys.stdout)
"""


@dataclass
class Compiled:
    """What one tree got: the modules compiled now, found in the cache, and left as source."""

    tag: str
    compiled: int = 0
    cached: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        failed = f", {len(self.failed)} left as source" if self.failed else ""
        return (
            f"{self.compiled + self.cached} modules with {self.tag} bytecode ({self.cached} cached){failed}"
        )


def version_of(interpreter: Path | str) -> tuple[int, int] | None:
    """The (major, minor) an interpreter runs, or None if it does not run (a pyenv shim of a version
    that is not selected exits non-zero)."""
    try:
        result = subprocess.run(
            [str(interpreter), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except OSError:
        return None
    match = _VERSION.match(result.stdout.strip())
    if result.returncode != 0 or match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def candidates(version: tuple[int, int]) -> Iterator[Path]:
    """Where an interpreter of `version` may be, in the order they are tried (lazily: the first that
    fits ends the search, and the later ones start processes)."""
    dotted = f"{version[0]}.{version[1]}"
    if os.environ.get(INTERPRETER_ENV):
        yield Path(os.environ[INTERPRETER_ENV])
    yield Path(sys.executable)
    on_path = shutil.which(f"python{dotted}")
    if on_path:
        yield Path(on_path)
    uv = Path(sys.executable).parent / "uv"
    uv_command = str(uv) if uv.exists() else shutil.which("uv")
    if uv_command:
        result = subprocess.run(
            [uv_command, "python", "find", "--no-python-downloads", dotted],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if result.returncode == 0 and result.stdout.strip():
            yield Path(result.stdout.strip().splitlines()[-1])
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    yield from sorted((pyenv_root / "versions").glob(f"{dotted}.*/bin/python{dotted}"), reverse=True)


@lru_cache(maxsize=4)
def find_interpreter(version: tuple[int, int] = RUNTIME_VERSION) -> Path | None:
    """The first candidate that runs and is `version`, or None (looked up once per process: a synth
    stages every function)."""
    for candidate in candidates(version):
        if version_of(candidate) == version:
            return candidate
    return None


def pyc_path(source: Path, tag: str) -> Path:
    """Where the import system looks for `source`'s bytecode (PEP 3147), for interpreter `tag`."""
    return source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"


def compile_tree(
    root: Path,
    interpreter: Path,
    *,
    version: tuple[int, int] = RUNTIME_VERSION,
    cache: Path | None = CACHE_DIR,
) -> Compiled:
    """Write the bytecode of every `.py` under `root` beside it, compiled by `interpreter`.

    With `cache`, each pyc is compiled into the cache under a key of its relative path and source bytes,
    then copied beside its source, so that the many functions staged at each synth (every one carries
    `shared/`) compile each module once. py_compile writes atomically, so parallel synths may share it.
    """
    tag = f"cpython-{version[0]}{version[1]}"
    # Each module: its source, its name under root (the cache key's and the tracebacks'), its pyc's path
    modules: list[tuple[Path, str, Path]] = []
    for source in sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts):
        display = source.relative_to(root).as_posix()
        if cache is None:
            modules.append((source, display, pyc_path(source, tag)))
        else:
            key = hashlib.sha256(display.encode() + b"\0" + source.read_bytes()).hexdigest()
            modules.append((source, display, cache / tag / key[:2] / f"{key}.pyc"))
    pending = [module for module in modules if cache is None or not module[2].is_file()]
    report = Compiled(tag=tag, cached=len(modules) - len(pending))
    if pending:
        report.compiled, report.failed = _compile(interpreter, pending, tag)
    if cache is not None:
        for source, _, kept in modules:
            if kept.is_file():  # else left as source: it did not compile
                destination = pyc_path(source, tag)
                destination.parent.mkdir(exist_ok=True)
                shutil.copyfile(kept, destination)
    return report


def _compile(interpreter: Path, pending: list[tuple[Path, str, Path]], tag: str) -> tuple[int, list]:
    result = subprocess.run(
        [str(interpreter), "-c", _COMPILER],
        input=json.dumps([[str(source), str(pyc), display] for source, display, pyc in pending]),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"{interpreter} could not compile bytecode: {result.stderr.strip()[-1000:]}")
    answer = json.loads(result.stdout)
    if answer["tag"] != tag:
        raise RuntimeError(f"{interpreter} writes {answer['tag']} bytecode, not {tag}")
    failed = [(display, reason) for display, reason in answer["failed"]]
    return len(pending) - len(failed), failed


def compile_for_runtime(root: Path, what: str, *, cache: Path | None = CACHE_DIR) -> Compiled | None:
    """`compile_tree` with the runtime's interpreter, or a warning and None when there is none."""
    interpreter = find_interpreter()
    if interpreter is None:
        _warn_once(what)
        return None
    return compile_tree(root, interpreter, cache=cache)


_WARNED: set[str] = set()


def _warn_once(what: str) -> None:
    """One warning a process for all it packages (a synth stages every function), naming the first."""
    dotted = ".".join(map(str, RUNTIME_VERSION))
    if dotted in _WARNED:
        return
    _WARNED.add(dotted)
    print(
        f"warning: no Python {dotted} found ({INTERPRETER_ENV}, PATH, uv, pyenv): {what} and every package "
        f"after it ship without bytecode, and each cold start compiles their modules. "
        f"`uv python install {dotted}` provides one.",
        file=sys.stderr,
    )

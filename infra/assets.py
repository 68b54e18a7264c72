"""Code assets for the Lambda functions, staged without importing any handler.

Each function ships `shared/` (minus the parts Lambda never imports: training, local emulation,
simulator) plus `functions/__init__.py` and its own `functions/<name>/`. Third-party packages come
from the dependencies layer; the model from the model layer. Each module ships with its bytecode for
the runtime (`layers/bytecode.py`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from layers.bytecode import compile_for_runtime

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", "*.egg-info")

# Distributions that must never be part of the scoring function (DESIGN: small cold start).
HEAVY_DISTRIBUTIONS = ("pandas", "xgboost", "sklearn", "scikit_learn", "numpy", "scipy")


def handler_path(function: str) -> str:
    return f"functions.{function}.handler.handler"


def handler_exists(function: str, root: Path = PROJECT_ROOT) -> bool:
    return (root / "functions" / function / "handler.py").is_file()


def stage_function_code(function: str, staging_root: Path, root: Path = PROJECT_ROOT) -> Path:
    """Copy the files of one function into `staging_root/<function>` and return that directory."""
    source = root / "functions" / function
    if not (source / "handler.py").is_file():
        raise FileNotFoundError(f"functions/{function}/handler.py does not exist; cannot package {function}")
    target = staging_root / function
    if target.exists():
        shutil.rmtree(target)
    (target / "functions").mkdir(parents=True)
    shutil.copy2(root / "functions" / "__init__.py", target / "functions" / "__init__.py")
    shutil.copytree(source, target / "functions" / function, ignore=_IGNORED)
    # shared/ is what Lambda runs, all of it (the tooling and training live beside it, in tooling/ and
    # training/, and import-linter keeps shared/ from importing them): nothing to leave out.
    shutil.copytree(root / "shared", target / "shared", ignore=_IGNORED)
    # The working tree's own caches are left out above (another Python's, timestamp-checked); the
    # runtime's are written here (layers/bytecode.py: a cold start would otherwise compile each module).
    compile_for_runtime(target, f"the {function} function")
    return target


def heavy_packages_in(directory: Path) -> list[str]:
    """Top-level packages, modules or dist-info in `directory` named like a heavy distribution
    (where Python would import them from; a nested `numpy.py` shim is not numpy)."""
    found = []
    for entry in directory.iterdir():
        stem = entry.name.split("-")[0].removesuffix(".py")
        if stem in HEAVY_DISTRIBUTIONS and (entry.is_dir() or entry.suffix in {".py", ".so"}):
            found.append(str(entry.relative_to(directory)))
    return sorted(found)

"""Code assets for the Lambda functions, staged without importing any handler.

Each function ships `shared/` (minus the parts Lambda never imports: training, local emulation,
simulator) plus `functions/__init__.py` and its own `functions/<name>/`. Third-party packages come
from the dependencies layer; the model from the model layer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# shared/ subpackages that must never reach a Lambda package: they pull in pandas, xgboost,
# scikit-learn, embedded servers or the EVM, and no handler imports them.
EXCLUDED_SHARED = ("ml", "local", "simulator")
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
    shared = root / "shared"

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = set(_IGNORED(directory, names))
        if Path(directory) == shared:
            ignored |= {name for name in names if name in EXCLUDED_SHARED}
        return ignored

    shutil.copytree(shared, target / "shared", ignore=ignore)
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

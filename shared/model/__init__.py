"""Run-time model loading for the scoring path: manifest + SHA-256 check, then ctypes over the compiled
library. Imports no numpy, pandas, xgboost, scikit-learn or tl2cgen (cold start stays small).

Public API: `load_model(model_dir=None) -> CompiledModel`, `resolve_model_dir`, `clear_model_cache`,
`CompiledModel`, `ModelThresholds`.

Which model: an explicit directory; else, with TG_MODEL_REGISTRY (the deployed functions), the version
the registry's CURRENT names, fetched and verified by shared.model.remote, falling back to TG_MODEL_DIR
(the model layer); else TG_MODEL_DIR; else the repository's model_artifacts/CURRENT.
"""

from __future__ import annotations

import threading
from pathlib import Path

from shared.errors import ConfigurationError, ModelIntegrityError
from shared.model.compiled import CompiledModel
from shared.model.manifest import (
    MANIFEST_NAME,
    ModelThresholds,
    current_architecture,
    read_manifest,
    verify_files,
)

__all__ = [
    "ARTIFACTS_ROOT",
    "CURRENT_POINTER",
    "CompiledModel",
    "ModelThresholds",
    "clear_model_cache",
    "load_model",
    "resolve_model_dir",
]

# The registry shipped in the repository (shared/model/__init__.py -> repo root / model_artifacts).
ARTIFACTS_ROOT = Path(__file__).resolve().parents[2] / "model_artifacts"
CURRENT_POINTER = "CURRENT"

_cache: dict[Path, CompiledModel] = {}
_cache_lock = threading.Lock()


def _follow_current(root: Path) -> Path:
    pointer = root / CURRENT_POINTER
    if not pointer.is_file():
        raise ConfigurationError(f"no model: {root} has neither {MANIFEST_NAME} nor a {CURRENT_POINTER} file")
    name = pointer.read_text(encoding="utf-8").strip()
    if not name or "/" in name or "\\" in name or name in {".", ".."}:
        raise ModelIntegrityError(f"{pointer} must hold one version directory name, got {name!r}")
    return root / name


def resolve_model_dir(model_dir: str | Path | None = None) -> Path:
    """Explicit argument, else the registry's served version (TG_MODEL_REGISTRY, when it fetches and
    verifies), else Settings.model_dir (TG_MODEL_DIR, `/opt/model` on Lambda), else the version named
    by model_artifacts/CURRENT. A registry root (a directory with CURRENT) is followed."""
    if model_dir is None:
        from shared.config import get_settings  # pydantic only when no directory was given

        settings = get_settings()
        model_dir = settings.model_dir
        if settings.model_registry:
            from shared.model.remote import served_model

            served = served_model(settings).directory()
            model_dir = served if served is not None else model_dir
    directory = Path(model_dir) if model_dir is not None else ARTIFACTS_ROOT
    if not directory.is_dir():
        raise ConfigurationError(f"model directory {directory} does not exist")
    if not (directory / MANIFEST_NAME).is_file():
        directory = _follow_current(directory)
    return directory.resolve()


def load_model(model_dir: str | Path | None = None) -> CompiledModel:
    """The verified, compiled model (cached per directory; safe to call from many threads)."""
    directory = resolve_model_dir(model_dir)
    with _cache_lock:
        cached = _cache.get(directory)
        if cached is not None:
            return cached
        manifest = read_manifest(directory)
        architecture = current_architecture()
        library = manifest.libraries.get(architecture)
        verify_files(manifest, required=(library,) if library else ())
        model = CompiledModel(manifest, manifest.library_path(architecture))
        _cache[directory] = model
        return model


def clear_model_cache() -> None:
    from shared.model.remote import reset_served_models

    with _cache_lock:
        _cache.clear()
    reset_served_models()

"""The model registry on disk: `<root>/<version>/` (XGBoost JSON, the two libraries, manifest, report,
plots, segments) and `<root>/CURRENT` naming the promoted version.

A version is assembled in `<root>/.staging-<version>/` and renamed into place when complete, and CURRENT
is replaced atomically, so an interrupted training leaves no half version and never a dangling pointer.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.errors import ConfigurationError
from shared.model import ARTIFACTS_ROOT, CURRENT_POINTER
from shared.model.manifest import MANIFEST_NAME, MANIFEST_SCHEMA, read_manifest, sha256_file


def new_version(now: datetime | None = None) -> str:
    return f"v{(now or datetime.now(UTC)):%Y%m%d.%H%M%S}"


def staging_dir(root: Path, version: str) -> Path:
    path = root / f".staging-{version}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def current_version_dir(root: Path) -> Path | None:
    pointer = root / CURRENT_POINTER
    if not pointer.is_file():
        return None
    path = root / pointer.read_text(encoding="utf-8").strip()
    return path if (path / MANIFEST_NAME).is_file() else None


def write_manifest(directory: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """Manifest = the given fields + the SHA-256 of every other file in the directory."""
    files = {
        path.relative_to(directory).as_posix(): sha256_file(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != MANIFEST_NAME
    }
    manifest = {"schema": MANIFEST_SCHEMA, **fields, "files": files}
    (directory / MANIFEST_NAME).write_text(
        json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    read_manifest(directory)  # what we write must be what the loader accepts
    return manifest


def publish(staging: Path, root: Path, version: str) -> Path:
    final = root / version
    if final.exists():
        raise ConfigurationError(f"model version {version} already exists in {root}")
    staging.rename(final)
    return final


def promote(root: Path, version: str) -> None:
    if not (root / version / MANIFEST_NAME).is_file():
        raise ConfigurationError(f"cannot promote {version}: no manifest in {root / version}")
    tmp = root / f".{CURRENT_POINTER}.tmp"
    tmp.write_text(version + "\n", encoding="utf-8")
    tmp.replace(root / CURRENT_POINTER)


def default_root() -> Path:
    return ARTIFACTS_ROOT

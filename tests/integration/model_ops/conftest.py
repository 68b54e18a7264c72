"""A registry directory with two versions of the session's tiny model (the second a copy under another
version name: the same predictions, which is all routing and storing need), served through TG_MODEL_DIR."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shared.config import get_settings
from shared.model import clear_model_cache
from shared.model.manifest import MANIFEST_NAME

SERVED, CANDIDATE = "vtest.1", "vtest.2"


def copy_version(root: Path, source: Path, version: str) -> Path:
    target = root / version
    shutil.copytree(source, target)
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    manifest["version"] = version
    (target / MANIFEST_NAME).write_text(json.dumps(manifest))
    return target


@pytest.fixture
def two_versions(tmp_path: Path, trained_registry: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "registry"
    root.mkdir()
    copy_version(root, trained_registry / SERVED, SERVED)
    copy_version(root, trained_registry / SERVED, CANDIDATE)
    (root / "CURRENT").write_text(SERVED + "\n")
    monkeypatch.setenv("TG_MODEL_DIR", str(root))
    get_settings.cache_clear()
    clear_model_cache()
    yield root
    clear_model_cache()

"""The model manifest: what a version directory holds, and the SHA-256 check run before anything loads.

Pure standard library (json, hashlib): the scoring Lambda imports this on its cold start.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from shared.errors import ConfigurationError, ModelIntegrityError
from shared.model.policy import IDENTITY, PolicyCalibration, PolicyError
from shared.model.reference import FeatureReference

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = 1
# platform.machine() spellings -> the architecture names the manifest (and Lambda) use.
ARCHITECTURE_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def current_architecture() -> str:
    machine = platform.machine().lower()
    try:
        return ARCHITECTURE_ALIASES[machine]
    except KeyError:
        raise ConfigurationError(
            f"no compiled model for this machine architecture {machine!r} (built for x86_64 and aarch64)"
        ) from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelThresholds:
    """Decision bands of spec 1.6 the model was evaluated with (score > block -> BLOCKED, ...)."""

    two_factor: float
    review: float
    block: float

    def as_dict(self) -> dict[str, float]:
        return {"two_factor": self.two_factor, "review": self.review, "block": self.block}


@dataclass(frozen=True)
class Manifest:
    directory: Path
    version: str
    feature_names: tuple[str, ...]
    thresholds: ModelThresholds
    libraries: dict[str, str]
    files: dict[str, str]
    raw: dict[str, Any]
    # The training distribution drift is measured against; None in manifests written before it existed.
    feature_reference: FeatureReference | None = None
    # probability -> the client's fraud_score (shared.model.policy); the identity in manifests before it.
    policy: PolicyCalibration = IDENTITY

    def library_path(self, architecture: str) -> Path:
        try:
            relative = self.libraries[architecture]
        except KeyError:
            raise ConfigurationError(
                f"model {self.version} has no library for {architecture} (has: {sorted(self.libraries)})"
            ) from None
        return self.directory / relative


def _safe_relative(name: str) -> PurePosixPath:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ModelIntegrityError(f"model manifest names a file outside its directory: {name!r}")
    return relative


def _require(raw: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    value = raw.get(key)
    if not isinstance(value, kind):
        raise ModelIntegrityError(f"model manifest {path} is malformed: {key!r} missing or of the wrong type")
    return value


def read_manifest(directory: Path) -> Manifest:
    """Parse `directory/manifest.json`; a missing directory is a configuration error, a bad one an integrity one."""
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ConfigurationError(f"no model manifest at {path}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(f"model manifest {path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ModelIntegrityError(f"model manifest {path} is not a JSON object")
    if raw.get("schema") != MANIFEST_SCHEMA:
        raise ModelIntegrityError(f"model manifest {path} has schema {raw.get('schema')!r}, expected 1")
    version = _require(raw, "version", str, path)
    names = _require(raw, "feature_names", list, path)
    if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ModelIntegrityError(f"model manifest {path}: feature_names must be distinct non-empty strings")
    bands = _require(raw, "thresholds", dict, path)
    try:
        thresholds = ModelThresholds(
            float(bands["two_factor"]), float(bands["review"]), float(bands["block"])
        )
    except (KeyError, TypeError, ValueError):
        raise ModelIntegrityError(
            f"model manifest {path}: thresholds need two_factor, review, block"
        ) from None
    libraries = _require(raw, "libraries", dict, path)
    files = _require(raw, "files", dict, path)
    for name, digest in files.items():
        _safe_relative(name)
        if not (isinstance(digest, str) and len(digest) == 64):
            raise ModelIntegrityError(f"model manifest {path}: bad SHA-256 for {name!r}")
    for arch, name in libraries.items():
        if name not in files:
            raise ModelIntegrityError(f"model manifest {path}: library for {arch} ({name}) has no SHA-256")
    reference = None
    if raw.get("feature_reference") is not None:
        try:
            reference = FeatureReference.from_json(raw["feature_reference"], tuple(names))
        except ValueError as exc:
            raise ModelIntegrityError(f"model manifest {path}: {exc}") from None
    policy = IDENTITY
    if raw.get("policy_calibration") is not None:
        try:
            policy = PolicyCalibration.from_json(raw["policy_calibration"])
        except PolicyError as exc:
            raise ModelIntegrityError(f"model manifest {path}: {exc}") from None
    return Manifest(
        directory=directory,
        version=version,
        feature_names=tuple(names),
        thresholds=thresholds,
        libraries=dict(libraries),
        files=dict(files),
        raw=raw,
        feature_reference=reference,
        policy=policy,
    )


def verify_files(manifest: Manifest, required: tuple[str, ...]) -> None:
    """Every listed file that is present must match its SHA-256; the `required` ones must be present.

    A deployment may ship a subset (the Lambda layer leaves out the training report and the XGBoost
    JSON), so absence of an optional file is fine, but a present file that differs never loads.
    """
    for name, expected in manifest.files.items():
        path = manifest.directory / _safe_relative(name)
        if not path.exists():
            if name in required:
                raise ModelIntegrityError(f"model {manifest.version}: required file {name} is missing")
            continue
        actual = sha256_file(path)
        if actual != expected:
            raise ModelIntegrityError(
                f"model {manifest.version}: {name} does not match its manifest SHA-256 "
                f"(expected {expected[:12]}..., found {actual[:12]}...); refusing to load a tampered model"
            )

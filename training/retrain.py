"""The train, evaluate and compile step of the retraining pipeline, as `ticketguard train --training-set
FILE|s3://... --registry s3://<archive>/models/ --outcome ...` runs it: on CodeBuild in AWS (the
buildspec of infra/retrain.py installs the pinned requirements and calls that command), and the same
way in the tests and on a laptop.

1. The baseline: the version the registry's CURRENT names, fetched and verified for this machine's
   architecture (shared.model.remote); without CURRENT, the model shipped with the code
   (model_artifacts/, the one the functions' layer carries). The gate compares the candidate with it.
2. The exported training set (shared/jobs/retrain.py writes it) -> `run_training`.
3. The candidate version uploaded to the registry, whatever the gate said (a refused version stays
   there for review); CURRENT is never touched here: the publish step moves it.
4. The outcome (version, the gate's decision and reasons, what it was compared with), where the
   publish step reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from shared.model import ARTIFACTS_ROOT
from shared.model.manifest import read_manifest
from shared.model.remote import Registry, fetch_version, read_pointer
from training import registry as local_registry
from training.data import LabelledTable, table_from_training_set
from training.pipeline import TrainOutcome


@dataclass(frozen=True)
class Baseline:
    directory: Path | None
    version: str | None
    source: Literal["registry", "shipped", "none"]

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "version": self.version}


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def local_copy(uri: str, work: Path, s3: Any) -> Path:
    """`uri` itself when it is a local path, else its S3 object downloaded into `work`."""
    if not uri.startswith("s3://"):
        return Path(uri)
    bucket, key = _split(uri)
    target = work / Path(key).name
    work.mkdir(parents=True, exist_ok=True)
    s3.download_file(bucket, key, str(target))
    return target


def read_training_set(path: Path, source: str) -> LabelledTable:
    """The exported training set (TRAINING_SET_COLUMNS; gzip or plain CSV; blank = missing)."""
    import pandas as pd

    frame = pd.read_csv(path, dtype={"transaction_id": "string"})
    return table_from_training_set(frame, source=source)


def fetch_baseline(registry: Registry, s3: Any, work: Path, shipped_root: Path = ARTIFACTS_ROOT) -> Baseline:
    pointer = read_pointer(registry, s3)
    if pointer is not None and pointer.version is not None:
        directory = fetch_version(registry, pointer.version, work / "baseline", s3)
        return Baseline(directory, pointer.version, "registry")
    shipped = local_registry.current_version_dir(shipped_root)
    if shipped is None:
        return Baseline(None, None, "none")
    return Baseline(shipped, read_manifest(shipped).version, "shipped")


def upload_version(directory: Path, registry: Registry, s3: Any) -> list[str]:
    """Every file of the version under <registry>/<version>/; never CURRENT."""
    keys = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        key = registry.key(directory.name, path.relative_to(directory).as_posix())
        s3.upload_file(str(path), registry.bucket, key)
        keys.append(key)
    return keys


def outcome_document(
    outcome: TrainOutcome, *, registry: Registry, baseline: Baseline, forced: bool, uploaded: list[str]
) -> dict[str, Any]:
    gate = outcome.report["gate"]
    test = outcome.report["test"]
    return {
        "version": outcome.version,
        "registry": registry.uri,
        "promote": bool(gate["promote"] or forced),
        "forced": bool(forced and not gate["promote"]),
        "reasons": list(gate["reasons"]),
        "baseline": baseline.as_json(),
        "gate": {key: gate.get(key) for key in ("new", "current", "tolerance")},
        "test": {key: test[key] for key in ("rows", "frauds", "auc_roc", "auc_pr")},
        "training_source": outcome.report["training_source"],
        "architectures": sorted(outcome.report["compilation"]["libraries"]),
        "uploaded": len(uploaded),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_outcome(document: dict[str, Any], target: str, s3: Any) -> None:
    body = json.dumps(document, indent=2, default=str) + "\n"
    if target.startswith("s3://"):
        bucket, key = _split(target)
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    else:
        Path(target).write_text(body, encoding="utf-8")

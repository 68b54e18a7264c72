"""What a trained version carries besides its model: the manifest's fields (what scoring reads) and the
check of its compiled libraries against XGBoost's own predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import xgboost as xgb

from shared.errors import ConfigurationError, ModelIntegrityError
from shared.model.compiled import CompiledModel
from shared.model.reference import FeatureReference
from training import compile as native
from training import train

COMPILED_TOLERANCE = 1e-5  # compiled probabilities vs XGBoost's, on the whole test split


class ManifestOptions(Protocol):
    """The training options the manifest repeats (training.pipeline.TrainOptions has them)."""

    training_source: str
    thresholds: tuple[float, ...]
    extra_manifest: dict[str, Any]


def manifest_fields(
    content: dict[str, Any],
    options: ManifestOptions,
    built: dict[str, Any],
    window: dict[str, Any],
    screening: dict[str, Any],
    reference: FeatureReference,
) -> dict[str, Any]:
    test = content["test"]
    review = test["thresholds"].get(f"{options.thresholds[len(options.thresholds) // 2]:.2f}", {})
    bands = dict(zip(("two_factor", "review", "block"), options.thresholds, strict=False))
    entry = content["operating_point"]["bands"]["two_factor"]  # where REQUIRE_2FA starts
    return {
        "version": content["version"],
        "created_at": content["created_at"],
        "model_type": content["model_selection"]["chosen"],
        "training_source": options.training_source,
        "feature_names": content["features"],
        "thresholds": bands,
        # How a text column became features (`column=value`, 1/0, missing when blank): callers encode alike.
        "feature_encoding": content["encoded_columns"],
        "policy_calibration": content["operating_point"]["policy_calibration"],
        "training_window": window,
        "metrics": {
            "split": "test",
            "rows": test["rows"],
            "frauds": test["frauds"],
            "auc_roc": test["auc_roc"],
            "auc_pr": test["auc_pr"],
            "false_positive_rate_at_review": review.get("false_positive_rate"),
            "detection_rate_at_review": review.get("detection_rate"),
            "detection_rate_at_two_factor": entry["detection"]["rate"],
            "false_positive_rate_at_two_factor": entry["false_positive"]["rate"],
        },
        "libraries": {arch: info["file"] for arch, info in built.items()},
        "max_glibc": {arch: info["max_glibc"] for arch, info in built.items()},
        "native_abi": {
            "predict": "predict(union Entry*, int pred_margin, float* out)",
            "contributions": "tg_contributions",
            "version": 1,
        },
        "training_envelope": screening["envelope_for_next"],
        "training_profile": {
            "features": content["features"],
            "rows": content["splits"]["train"]["rows"] + content["splits"]["valid"]["rows"],
            "fraud_rate": (content["splits"]["train"]["frauds"] + content["splits"]["valid"]["frauds"])
            / max(content["splits"]["train"]["rows"] + content["splits"]["valid"]["rows"], 1),
        },
        "feature_reference": reference.as_json(),
        "gate": {k: content["gate"][k] for k in ("promote", "reasons", "current_version")},
        **options.extra_manifest,
    }


def check_compiled(
    staging: Path, content: dict[str, Any], booster: xgb.Booster, x_test: pd.DataFrame, built: dict[str, Any]
) -> dict[str, Any]:
    """Compiled library vs XGBoost on the whole test split (host architecture), and the other
    architecture through the qemu harness on a sample when qemu is there."""
    checks: dict[str, Any] = {}
    host = native.host_architecture()
    expected = train.predict_proba(booster, x_test)
    rows = x_test.to_numpy(dtype=np.float32)
    if host in built:
        library = staging / built[host]["file"]
        manifest = _provisional_manifest(staging, content, built)
        model = CompiledModel(manifest, library)
        got = np.asarray(model.predict_buffer(np.ascontiguousarray(rows), len(rows)))
        diff = float(np.abs(got - expected).max()) if len(rows) else 0.0
        if diff > COMPILED_TOLERANCE:
            raise ModelIntegrityError(
                f"compiled {host} model differs from XGBoost by {diff:.2e} on the test split"
            )
        checks[host] = {"rows": len(rows), "max_abs_diff": diff}
    for architecture in built:
        if architecture == host:
            continue
        sample = [[None if np.isnan(v) else float(v) for v in row] for row in rows[:500]]
        try:
            harness = native.build_harness(
                staging / built[architecture]["file"],
                architecture,
                staging.parent / f".harness-{architecture}",
            )
            output = np.asarray(native.run_harness(harness, architecture, sample))
            harness.unlink(missing_ok=True)
        except ConfigurationError as exc:
            checks[architecture] = {"verified": False, "why": exc.message}
            continue
        diff = float(np.abs(output[:, 0] - expected[: len(sample)]).max())
        if diff > COMPILED_TOLERANCE:
            raise ModelIntegrityError(
                f"compiled {architecture} model differs from XGBoost by {diff:.2e} under qemu"
            )
        checks[architecture] = {"rows": len(sample), "max_abs_diff": diff, "runner": "qemu-user"}
    return checks


def _provisional_manifest(staging: Path, content: dict[str, Any], built: dict[str, Any]) -> Any:
    from shared.model.manifest import Manifest, ModelThresholds

    return Manifest(
        directory=staging,
        version=content["version"],
        feature_names=tuple(content["features"]),
        thresholds=ModelThresholds(0.40, 0.65, 0.85),
        libraries={arch: info["file"] for arch, info in built.items()},
        files={},
        raw={},
    )

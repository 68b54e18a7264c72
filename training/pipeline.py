"""The training pipeline: labelled table -> time splits -> poisoning defences -> candidates chosen on
validation -> evaluation on test -> compilation -> registry (promotion through the gate)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from shared.errors import ConfigurationError, ModelIntegrityError
from shared.model.compiled import CompiledModel
from shared.model.reference import FeatureReference
from training import compile as native
from training import defences, evaluate, operating, registry, report, train
from training.data import LabelledTable
from training.reference import build_feature_reference
from training.splits import Splits, time_splits

logger = logging.getLogger(__name__)

MODEL_FILE = "model.json"
COMPILED_TOLERANCE = 1e-5  # compiled probabilities vs XGBoost's, on the whole test split
IMBALANCE_NOTE = (
    "Class imbalance: scale_pos_weight in {1, sqrt(neg/pos), neg/pos} is a hyperparameter chosen on the "
    "validation split together with depth and min_child_weight: among candidates whose validation AUC-PR "
    "is within 0.02 of the best, the best validation detection at the spec's 1.8% false-positive rate wins "
    "(then AUC-PR); early stopping uses validation AUC-PR. The decision bands are then placed by the policy "
    "calibration fitted on validation (REQUIRE_2FA from a 1.8% false-positive rate, MANUAL_REVIEW 0.5%, "
    "BLOCKED 0.1%), so the weighting does not decide the operating point; the report gives detection and "
    "false-positive rates at the bands, never accuracy."
)


@dataclass
class TrainOptions:
    out_root: Path
    training_source: str
    seed: int = 0
    n_boot: int = 500
    tolerance: float = defences.DEFAULT_TOLERANCE
    margin: float = defences.DEFAULT_MARGIN
    promote: bool = True
    force: bool = False
    architectures: tuple[str, ...] = native.ARCHITECTURES
    thresholds: tuple[float, ...] = evaluate.DEFAULT_THRESHOLDS
    grid: dict[str, list[Any]] | None = None
    version: str | None = None
    current_model_dir: Path | None = None  # default: the registry's CURRENT
    extra_manifest: dict[str, Any] = field(default_factory=dict)
    # The live-path check of the gate (tooling.livepath.gate.live_path_gate): the registered candidate's
    # directory -> a verdict {"passed", "reasons", ...}; a refusal keeps CURRENT where it is.
    live_gate: Callable[[Path], dict[str, Any]] | None = None


@dataclass
class TrainOutcome:
    version: str
    directory: Path
    promoted: bool
    report: dict[str, Any]


def _current_model(
    root: Path, feature_names: list[str], explicit: Path | None
) -> tuple[str | None, CompiledModel | None, dict[str, Any] | None]:
    """The model new versions must beat: `explicit` (the served version the retraining build fetched) or the
    registry's CURRENT; scored through its verified compiled library, as production scores."""
    directory = explicit if explicit is not None else registry.current_version_dir(root)
    if directory is None:
        return None, None, None
    from shared.model import load_model

    model = load_model(directory)
    if list(model.feature_names) != feature_names:
        logger.warning("current model %s has other features: not comparable", model.version)
        return model.version, None, model.manifest.raw
    return model.version, model, model.manifest.raw


def _trainable(train_labels: np.ndarray, valid_labels: np.ndarray) -> bool:
    """Both splits keep rows of both classes (a classifier and its calibration need them)."""
    return all(len(np.unique(labels)) == 2 for labels in (train_labels, valid_labels))


def _envelope(
    splits: Splits, current_manifest: dict[str, Any] | None, margin: float
) -> tuple[defences.Envelope, str]:
    """The promoted model's training envelope when it has the same features, else the window's own."""
    stored = (current_manifest or {}).get("training_envelope")
    if stored and set(stored) == set(splits.train.feature_names):
        version = (current_manifest or {}).get("version")
        envelope = {k: (float(v[0]), float(v[1])) for k, v in stored.items()}
        return envelope, f"the training data of the promoted model {version}"
    # No trusted model yet: the window's own envelope still catches isolated absurd values
    # (injected rows) without mistaking the window's natural drift for poisoning.
    window = pd.concat([splits.train.features, splits.valid.features], ignore_index=True)
    envelope = defences.reference_envelope(window, margin, trusted=False)
    return envelope, "the training and validation window itself (no promoted model yet)"


def _screen(
    splits: Splits, current_manifest: dict[str, Any] | None, margin: float, seed: int
) -> tuple[Splits, dict[str, Any]]:
    """Quarantine out-of-envelope rows of training+validation; the test split is never altered."""
    train_part = splits.train
    n_train = len(train_part.labels)
    reference_rows = np.arange(n_train) < max(n_train // 2, 1)
    reference = train_part.subset(reference_rows)
    envelope, envelope_source = _envelope(splits, current_manifest, margin)
    train_q = defences.quarantine_outliers(train_part.features, envelope, np.ones(n_train, dtype=bool))
    valid_q = defences.quarantine_outliers(
        splits.valid.features, envelope, np.ones(len(splits.valid.labels), dtype=bool)
    )
    quarantined = {"train": train_q.count, "valid": valid_q.count}
    quarantine_share = (train_q.count + valid_q.count) / max(n_train + len(splits.valid.labels), 1)
    kept_whole = not _trainable(train_part.labels[~train_q.mask], splits.valid.labels[~valid_q.mask])
    if kept_whole:
        # Too little is left inside the envelope to train on (data unlike the trusted model's: every row of
        # a poisoned or foreign window). The candidate is trained on the window as it came, so that its
        # report exists, and refused by the anomaly check's quarantine flag (the share is the measured one).
        train_q.mask[:] = False
        valid_q.mask[:] = False
    screened = pd.concat(
        [train_part.features[~reference_rows & ~train_q.mask], splits.valid.features[~valid_q.mask]],
        ignore_index=True,
    )
    screened_labels = np.concatenate(
        [train_part.labels[~reference_rows & ~train_q.mask], splits.valid.labels[~valid_q.mask]]
    )
    screened_table = LabelledTable(screened, screened_labels, None, train_part.source)
    profile = (current_manifest or {}).get("training_profile") or {}
    trusted_rate = profile.get("fraud_rate") if profile.get("features") == train_part.feature_names else None
    anomalies = defences.anomaly_check(
        reference,
        screened_table,
        quarantine_share,
        seed=seed,
        trusted_fraud_rate=trusted_rate,
    )
    cleaned = Splits(
        train=train_part.subset(~train_q.mask),
        valid=splits.valid.subset(~valid_q.mask),
        test=splits.test,
        rule=splits.rule,
        windows=splits.windows,
    )
    summary = {
        "envelope_source": envelope_source,
        "envelope_quantiles": list(defences.ENVELOPE_QUANTILES),
        "envelope_margin": margin,
        "envelope": {k: list(v) for k, v in envelope.items()},
        "quarantined": quarantined,
        "quarantine_share": quarantine_share,
        "quarantine_kept_for_training": kept_whole,
        "quarantined_per_feature": {
            name: train_q.per_feature.get(name, 0) + valid_q.per_feature.get(name, 0)
            for name in sorted(set(train_q.per_feature) | set(valid_q.per_feature))
        },
        "quarantine_examples": (train_q.reasons + valid_q.reasons)[:50],
        "anomaly_check": anomalies,
        # What the next training is screened against once this model is promoted.
        "envelope_for_next": {
            k: list(v)
            for k, v in defences.reference_envelope(
                pd.concat([cleaned.train.features, cleaned.valid.features], ignore_index=True), margin
            ).items()
        },
    }
    return cleaned, summary


def run_training(table: LabelledTable, options: TrainOptions) -> TrainOutcome:
    root = options.out_root
    root.mkdir(parents=True, exist_ok=True)
    version = options.version or registry.new_version()
    feature_names = table.feature_names
    splits = time_splits(table, seed=options.seed)
    current_version, current_model, current_manifest = _current_model(
        root, feature_names, options.current_model_dir
    )
    splits, screening = _screen(splits, current_manifest, options.margin, options.seed)
    # Drift is measured against what the model learned from: the training and validation rows left
    # after screening, not the held-out test split.
    reference = build_feature_reference(
        pd.concat([splits.train.features, splits.valid.features], ignore_index=True)
    )

    x_train, y_train = splits.train.features, splits.train.labels
    x_valid, y_valid = splits.valid.features, splits.valid.labels
    x_test, y_test = splits.test.features, splits.test.labels

    gbt, trials = train.fit_xgboost(
        (x_train, y_train),
        (x_valid, y_valid),
        seed=options.seed,
        grid=options.grid,
    )
    forest = train.fit_random_forest((x_train, y_train), (x_valid, y_valid), seed=options.seed)
    isolation = train.fit_isolation_forest(x_train, seed=options.seed)

    valid_scores = {
        "xgboost": train.predict_proba(gbt.booster, x_valid),
        "random_forest": train.predict_proba(forest.booster, x_valid),
    }
    valid_scores["ensemble"] = (valid_scores["xgboost"] + valid_scores["random_forest"]) / 2
    valid_scores["isolation_forest"] = isolation.scores(x_valid)
    valid_auc_pr = {
        name: evaluate.score_metrics(y_valid, s, probabilities=False)["auc_pr"]
        for name, s in valid_scores.items()
    }
    deployable = {"xgboost": gbt, "random_forest": forest}
    chosen_name = max(deployable, key=lambda name: valid_auc_pr[name])
    chosen = deployable[chosen_name]
    best_overall = max(valid_auc_pr, key=lambda name: valid_auc_pr[name])
    why = (
        f"{chosen_name} has the best validation AUC-PR among the deployable models "
        f"({valid_auc_pr[chosen_name]:.4f}; xgboost {valid_auc_pr['xgboost']:.4f}, random_forest "
        f"{valid_auc_pr['random_forest']:.4f})."
    )
    if best_overall not in deployable:
        why += (
            f" {best_overall} scored higher on validation ({valid_auc_pr[best_overall]:.4f}) but is not one "
            "additive tree model, so it has neither one compiled library nor exact TreeSHAP contributions."
        )

    test_scores = {
        "xgboost": train.predict_proba(gbt.booster, x_test),
        "random_forest": train.predict_proba(forest.booster, x_test),
    }
    test_scores["ensemble"] = (test_scores["xgboost"] + test_scores["random_forest"]) / 2
    test_scores["isolation_forest"] = isolation.scores(x_test)
    chosen_scores = test_scores[chosen_name]
    # The bands on the client's score: the policy calibration fitted on the validation probabilities.
    policy = operating.fit_operating_policy(y_valid, valid_scores[chosen_name], options.thresholds)
    client_scores = operating.apply_policy(policy, chosen_scores)
    test_metrics = evaluate.score_metrics(
        y_test, client_scores, options.thresholds, n_boot=options.n_boot, seed=options.seed
    )
    operating_point = operating.operating_report(
        y_test,
        chosen_scores,
        policy,
        options.thresholds,
        scenarios=None if splits.test.scenarios is None else splits.test.scenarios.tolist(),
        n_boot=options.n_boot,
        seed=options.seed,
    )
    alternatives = {
        name: {
            "valid_auc_pr": valid_auc_pr[name],
            "test": evaluate.score_metrics(y_test, scores, probabilities=False),
        }
        for name, scores in test_scores.items()
    }
    contributions = chosen.booster.predict(train._matrix(x_test), pred_contribs=True)
    importance = evaluate.shap_importance(np.asarray(contributions), feature_names)
    segments = train.segment_users(x_train, y_train, seed=options.seed)

    current_scores = None
    if current_model is not None:
        rows = np.ascontiguousarray(x_test.to_numpy(dtype=np.float32))
        current_scores = np.asarray(current_model.predict_buffer(rows, len(rows)), dtype=np.float64)
    gate = defences.promotion_gate(
        y_test,
        chosen_scores,
        current_scores,
        current_version=current_version,
        anomalies=screening["anomaly_check"],
        tolerance=options.tolerance,
    )
    promote = options.promote and (gate["promote"] or options.force)
    if options.force and not gate["promote"]:
        gate["forced"] = True

    staging = registry.staging_dir(root, version)
    try:
        chosen.booster.save_model(str(staging / MODEL_FILE))
        built = native.compile_model(chosen.booster, staging, options.architectures)
        plots = evaluate.save_plots(
            y_test, client_scores, options.thresholds[len(options.thresholds) // 2], staging, version
        )
        (staging / "segments.json").write_text(json.dumps(segments, indent=2) + "\n", encoding="utf-8")
        window = {
            "start": splits.windows["train"].get("start"),
            "end": splits.windows["valid"].get("end"),
            "test_start": splits.windows["test"].get("start"),
            "test_end": splits.windows["test"].get("end"),
        }
        compilation: dict[str, Any] = {"libraries": built}
        content = {
            "version": version,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "training_source": options.training_source,
            "features": feature_names,
            "left_out_columns": table.left_out,
            "encoded_columns": {name: {"one_hot": values} for name, values in table.encoded.items()},
            "warnings": table.warnings,
            "rows_read": table.rows_read,
            "splits": {"rule": splits.rule, **splits.windows},
            "imbalance": IMBALANCE_NOTE,
            "defences": screening,
            "model_selection": {
                "valid_auc_pr": valid_auc_pr,
                "xgboost_trials": trials,
                "xgboost_params": {k: v for k, v in gbt.params.items() if k != "nthread"},
                "xgboost_rounds": gbt.rounds,
                "random_forest_params": {k: v for k, v in forest.params.items() if k != "nthread"},
                "chosen": chosen_name,
                "why": why,
            },
            "test": test_metrics,
            "operating_point": operating_point,
            "alternatives": alternatives,
            "shap_importance": importance,
            "segments": {"file": "segments.json", "profiles": segments["profiles"]},
            "compilation": compilation,
            "gate": gate,
            "plots": plots,
        }
        compilation["checks"] = _check_compiled(staging, content, chosen.booster, x_test, built)
        (staging / "report.json").write_text(
            json.dumps(content, indent=2, default=_json_default) + "\n", encoding="utf-8"
        )
        (staging / "report.md").write_text(report.render_markdown(content), encoding="utf-8")
        registry.write_manifest(
            staging, _manifest_fields(content, options, built, window, screening, reference)
        )
        directory = registry.publish(staging, root, version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    promote = _live_path_gate(options, directory, gate, promote)
    if promote:
        registry.promote(root, version)
    return TrainOutcome(version, directory, promote, content)


def _live_path_gate(options: TrainOptions, directory: Path, gate: dict[str, Any], promote: bool) -> bool:
    """The registered candidate on the live path (when asked for): a refusal joins the gate's reasons
    and keeps CURRENT unless --force. The verdict's file lies beside the model, outside its manifest."""
    if options.live_gate is None:
        return promote
    verdict = options.live_gate(directory)
    gate["live_path"] = {"passed": verdict["passed"], "reasons": verdict["reasons"]}
    if verdict["passed"]:
        return promote
    gate["promote"] = False
    gate["reasons"] = [*verdict["reasons"], *gate["reasons"]]
    if options.force:
        gate["forced"] = True
    return promote and options.force


def _manifest_fields(
    content: dict[str, Any],
    options: TrainOptions,
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


def _check_compiled(
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


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (datetime, pd.Timestamp)):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")

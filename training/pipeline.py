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

from shared.model.compiled import CompiledModel
from shared.model.reference import FeatureReference
from training import compile as native
from training import defences, evaluate, operating, registry, report, train
from training.artifacts import check_compiled, manifest_fields
from training.data import LabelledTable
from training.reference import build_feature_reference
from training.splits import Splits, time_splits

logger = logging.getLogger(__name__)

MODEL_FILE = "model.json"


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
    # Honest purchases of other worlds (training.worlds: name -> their features): each band starts where
    # its false-positive rate holds on validation and on every one of them (training.operating).
    calibration_worlds: dict[str, pd.DataFrame] = field(default_factory=dict)


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
    n_train = len(splits.train.labels)
    reference_rows = np.arange(n_train) < max(n_train // 2, 1)
    envelope, envelope_source = _envelope(splits, current_manifest, margin)
    train_q, valid_q, kept_whole = _quarantine(splits, envelope)
    quarantine_share = (train_q.count + valid_q.count) / max(n_train + len(splits.valid.labels), 1)
    anomalies = _anomalies(
        splits, reference_rows, (train_q, valid_q), quarantine_share, current_manifest, seed
    )
    cleaned = Splits(
        train=splits.train.subset(~train_q.mask),
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
        "quarantined": {"train": train_q.count, "valid": valid_q.count},
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


def _quarantine(
    splits: Splits, envelope: defences.Envelope
) -> tuple[defences.Quarantine, defences.Quarantine, bool]:
    """The training and validation rows outside the envelope, and whether they are kept all the same."""
    train_q = defences.quarantine_outliers(
        splits.train.features, envelope, np.ones(len(splits.train.labels), dtype=bool)
    )
    valid_q = defences.quarantine_outliers(
        splits.valid.features, envelope, np.ones(len(splits.valid.labels), dtype=bool)
    )
    kept_whole = not _trainable(splits.train.labels[~train_q.mask], splits.valid.labels[~valid_q.mask])
    if kept_whole:
        # Too little is left inside the envelope to train on (data unlike the trusted model's: every row of
        # a poisoned or foreign window). The candidate is trained on the window as it came, so that its
        # report exists, and refused by the anomaly check's quarantine flag (the share is the measured one).
        train_q.mask[:] = False
        valid_q.mask[:] = False
    return train_q, valid_q, kept_whole


def _anomalies(
    splits: Splits,
    reference_rows: np.ndarray,
    quarantines: tuple[defences.Quarantine, defences.Quarantine],
    quarantine_share: float,
    current_manifest: dict[str, Any] | None,
    seed: int,
) -> dict[str, Any]:
    """The anomaly check of the screened rows (the later half of training, and validation) against the
    earlier half of training and the promoted model's fraud rate when it has the same features."""
    train_part, (train_q, valid_q) = splits.train, quarantines
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
    return defences.anomaly_check(
        train_part.subset(reference_rows),
        screened_table,
        quarantine_share,
        seed=seed,
        trusted_fraud_rate=trusted_rate,
    )


@dataclass
class _Candidates:
    """The models fitted on the training split: the two deployable tree models and the isolation forest."""

    gbt: train.FittedModel
    trials: list[dict[str, Any]]
    forest: train.FittedModel
    isolation: train.IsolationForestModel

    @property
    def deployable(self) -> dict[str, train.FittedModel]:
        return {"xgboost": self.gbt, "random_forest": self.forest}

    def scores(self, features: pd.DataFrame) -> dict[str, np.ndarray]:
        """Model name -> scores of `features`: each candidate's and the two tree models' average."""
        scores = {
            "xgboost": train.predict_proba(self.gbt.booster, features),
            "random_forest": train.predict_proba(self.forest.booster, features),
        }
        scores["ensemble"] = (scores["xgboost"] + scores["random_forest"]) / 2
        scores["isolation_forest"] = self.isolation.scores(features)
        return scores


@dataclass
class _Choice:
    """The deployable model chosen on validation, why, and every candidate's validation scores."""

    name: str
    why: str
    valid_scores: dict[str, np.ndarray]
    valid_auc_pr: dict[str, float]


@dataclass
class _Evaluation:
    """The chosen model on the test split: its scores, its client scores (the policy applied), the
    metrics and operating point on them, and the other candidates' test metrics."""

    chosen_scores: np.ndarray
    client_scores: np.ndarray
    metrics: dict[str, Any]
    operating_point: dict[str, Any]
    alternatives: dict[str, Any]
    importance: list[dict[str, Any]]
    segments: dict[str, Any]


def run_training(table: LabelledTable, options: TrainOptions) -> TrainOutcome:
    root = options.out_root
    root.mkdir(parents=True, exist_ok=True)
    version = options.version or registry.new_version()
    splits = time_splits(table, seed=options.seed)
    current_version, current_model, current_manifest = _current_model(
        root, table.feature_names, options.current_model_dir
    )
    splits, screening = _screen(splits, current_manifest, options.margin, options.seed)
    # Drift is measured against what the model learned from: the training and validation rows left
    # after screening, not the held-out test split.
    reference = build_feature_reference(
        pd.concat([splits.train.features, splits.valid.features], ignore_index=True)
    )
    candidates = _fit_candidates(splits, options.seed, options.grid)
    choice = _choose(candidates, splits)
    evaluation = _evaluate(candidates, choice, splits, options)
    gate, promote = _gate(options, (current_version, current_model), splits.test, evaluation, screening)
    run = _Run(table, options, version, splits, screening, reference, candidates, choice, evaluation, gate)
    directory, content = _publish(run)
    promote = _live_path_gate(options, directory, gate, promote)
    if promote:
        registry.promote(root, version)
    return TrainOutcome(version, directory, promote, content)


def _gate(
    options: TrainOptions,
    current: tuple[str | None, CompiledModel | None],
    test: LabelledTable,
    evaluation: _Evaluation,
    screening: dict[str, Any],
) -> tuple[dict[str, Any], bool]:
    """The promotion gate's verdict on the test split (against the current model when comparable), and
    whether to promote (asked for, and passed or forced)."""
    current_version, current_model = current
    current_scores = None
    if current_model is not None:
        rows = np.ascontiguousarray(test.features.to_numpy(dtype=np.float32))
        current_scores = np.asarray(current_model.predict_buffer(rows, len(rows)), dtype=np.float64)
    gate = defences.promotion_gate(
        test.labels,
        evaluation.chosen_scores,
        current_scores,
        current_version=current_version,
        anomalies=screening["anomaly_check"],
        tolerance=options.tolerance,
    )
    promote = options.promote and (gate["promote"] or options.force)
    if options.force and not gate["promote"]:
        gate["forced"] = True
    return gate, promote


def _fit_candidates(splits: Splits, seed: int, grid: dict[str, list[Any]] | None) -> _Candidates:
    training = (splits.train.features, splits.train.labels)
    validation = (splits.valid.features, splits.valid.labels)
    gbt, trials = train.fit_xgboost(training, validation, seed=seed, grid=grid)
    forest = train.fit_random_forest(training, validation, seed=seed)
    isolation = train.fit_isolation_forest(splits.train.features, seed=seed)
    return _Candidates(gbt, trials, forest, isolation)


def _choose(candidates: _Candidates, splits: Splits) -> _Choice:
    """The deployable model with the best validation AUC-PR, and why (a better model that cannot be
    deployed is named)."""
    valid_scores = candidates.scores(splits.valid.features)
    valid_auc_pr = {
        name: evaluate.score_metrics(splits.valid.labels, s, probabilities=False)["auc_pr"]
        for name, s in valid_scores.items()
    }
    deployable = candidates.deployable
    chosen_name = max(deployable, key=lambda name: valid_auc_pr[name])
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
    return _Choice(chosen_name, why, valid_scores, valid_auc_pr)


def _evaluate(candidates: _Candidates, choice: _Choice, splits: Splits, options: TrainOptions) -> _Evaluation:
    y_test = splits.test.labels
    test_scores = candidates.scores(splits.test.features)
    chosen_scores = test_scores[choice.name]
    # The bands on the client's score: the policy calibration fitted on the validation probabilities.
    booster, columns = candidates.deployable[choice.name].booster, list(splits.valid.features.columns)
    policy = operating.fit_operating_policy(
        splits.valid.labels,
        choice.valid_scores[choice.name],
        options.thresholds,
        valid_features=splits.valid.features,
        worlds={
            n: (train.predict_proba(booster, w[columns]), w) for n, w in options.calibration_worlds.items()
        },
    )
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
            "valid_auc_pr": choice.valid_auc_pr[name],
            "test": evaluate.score_metrics(y_test, scores, probabilities=False),
        }
        for name, scores in test_scores.items()
    }
    chosen = candidates.deployable[choice.name]
    contributions = chosen.booster.predict(train._matrix(splits.test.features), pred_contribs=True)
    importance = evaluate.shap_importance(np.asarray(contributions), splits.test.feature_names)
    segments = train.segment_users(splits.train.features, splits.train.labels, seed=options.seed)
    return _Evaluation(
        chosen_scores, client_scores, test_metrics, operating_point, alternatives, importance, segments
    )


@dataclass
class _Run:
    """What one training run has found by the time it writes its version."""

    table: LabelledTable
    options: TrainOptions
    version: str
    splits: Splits
    screening: dict[str, Any]
    reference: FeatureReference
    candidates: _Candidates
    choice: _Choice
    evaluation: _Evaluation
    gate: dict[str, Any]

    @property
    def chosen(self) -> train.FittedModel:
        return self.candidates.deployable[self.choice.name]


def _publish(run: _Run) -> tuple[Path, dict[str, Any]]:
    """Write the chosen model, its compiled libraries, plots, segments, report and manifest to a staging
    directory and publish it as the run's version; nothing is left behind when a step fails."""
    options, booster, x_test = run.options, run.chosen.booster, run.splits.test.features
    staging = registry.staging_dir(options.out_root, run.version)
    try:
        booster.save_model(str(staging / MODEL_FILE))
        built = native.compile_model(booster, staging, options.architectures)
        plots = evaluate.save_plots(
            run.splits.test.labels,
            run.evaluation.client_scores,
            options.thresholds[len(options.thresholds) // 2],
            staging,
            run.version,
        )
        segments = run.evaluation.segments
        (staging / "segments.json").write_text(json.dumps(segments, indent=2) + "\n", encoding="utf-8")
        content = _report_content(run, built, plots)
        content["compilation"]["checks"] = check_compiled(staging, content, booster, x_test, built)
        (staging / "report.json").write_text(
            json.dumps(content, indent=2, default=_json_default) + "\n", encoding="utf-8"
        )
        (staging / "report.md").write_text(report.render_markdown(content), encoding="utf-8")
        window = _training_window(run.splits)
        registry.write_manifest(
            staging, manifest_fields(content, options, built, window, run.screening, run.reference)
        )
        return registry.publish(staging, options.out_root, run.version), content
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _training_window(splits: Splits) -> dict[str, Any]:
    return {
        "start": splits.windows["train"].get("start"),
        "end": splits.windows["valid"].get("end"),
        "test_start": splits.windows["test"].get("start"),
        "test_end": splits.windows["test"].get("end"),
    }


def _report_content(run: _Run, built: dict[str, Any], plots: dict[str, Any]) -> dict[str, Any]:
    """The run's report (report.json), the compiled libraries' checks still to come."""
    table, gbt, forest = run.table, run.candidates.gbt, run.candidates.forest
    return {
        "version": run.version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_source": run.options.training_source,
        "features": table.feature_names,
        "left_out_columns": table.left_out,
        "encoded_columns": {name: {"one_hot": values} for name, values in table.encoded.items()},
        "warnings": table.warnings,
        "rows_read": table.rows_read,
        "splits": {"rule": run.splits.rule, **run.splits.windows},
        "imbalance": operating.IMBALANCE_NOTE,
        "defences": run.screening,
        "model_selection": {
            "valid_auc_pr": run.choice.valid_auc_pr,
            "xgboost_trials": run.candidates.trials,
            "xgboost_params": {k: v for k, v in gbt.params.items() if k != "nthread"},
            "xgboost_rounds": gbt.rounds,
            "random_forest_params": {k: v for k, v in forest.params.items() if k != "nthread"},
            "chosen": run.choice.name,
            "why": run.choice.why,
        },
        "test": run.evaluation.metrics,
        "operating_point": run.evaluation.operating_point,
        "alternatives": run.evaluation.alternatives,
        "shap_importance": run.evaluation.importance,
        "segments": {"file": "segments.json", "profiles": run.evaluation.segments["profiles"]},
        "compilation": {"libraries": built},
        "gate": run.gate,
        "plots": plots,
    }


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


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (datetime, pd.Timestamp)):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")

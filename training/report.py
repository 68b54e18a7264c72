"""The short human page of the evaluation report (report.md next to report.json and the PNG plots)."""

from __future__ import annotations

from typing import Any


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _ci(metrics: dict[str, Any], key: str, percent: bool = False) -> str:
    interval = metrics.get("ci95", {}).get(key)
    if not interval:
        return ""
    low, high = interval
    return f" [{_pct(low)}, {_pct(high)}]" if percent else f" [{low:.3f}, {high:.3f}]"


def render_markdown(content: dict[str, Any]) -> str:
    lines = _split_lines(content) + _test_lines(content)
    if "operating_point" in content:
        lines += operating_lines(content["operating_point"])
    lines += ["", "## Global feature importance (mean |SHAP| on the test split)", ""]
    lines += [
        f"{i}. `{item['feature']}` ({item['share']:.2f})"
        for i, item in enumerate(content["shap_importance"], 1)
    ]
    lines += _comparison_lines(content) + _defence_lines(content) + _data_lines(content)
    return "\n".join(lines) + "\n"


def _split_lines(content: dict[str, Any]) -> list[str]:
    lines = [
        f"# Fraud model {content['version']}",
        "",
        f"Source: {content['training_source']}. Trained on features: {', '.join(content['features'])}.",
        "",
        f"Splits ({content['splits']['rule']}):",
        "",
        "| split | rows | frauds | from | to |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in ("train", "valid", "test"):
        window = content["splits"][name]
        lines.append(
            f"| {name} | {window['rows']} | {window['frauds']} | {window.get('start', '-')} | {window.get('end', '-')} |"
        )
    return lines


def _test_lines(content: dict[str, Any]) -> list[str]:
    """The chosen model's metrics on the test split, and its confusion matrix at each threshold."""
    test = content["test"]
    lines = [
        "",
        f"## Test split: {test['rows']} rows, {test['frauds']} frauds (model: {content['model_selection']['chosen']})",
        "",
        "| metric | value | 95% CI (bootstrap) |",
        "| --- | --- | --- |",
        f"| AUC-ROC | {test['auc_roc']:.3f} |{_ci(test, 'auc_roc')} |",
        f"| AUC-PR | {test['auc_pr']:.3f} |{_ci(test, 'auc_pr')} |",
        f"| Precision @ 90% recall | {test['precision_at_90_recall']:.3f} |{_ci(test, 'precision_at_90_recall')} |",
        "",
        "| threshold (score >= t) | TP | FP | FN | TN | precision | detection rate | FPR | F1 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, point in test["thresholds"].items():
        cm = point["confusion_matrix"]
        lines.append(
            f"| {key} | {cm['tp']} | {cm['fp']} | {cm['fn']} | {cm['tn']} | {_pct(point['precision'])} | "
            f"{_pct(point['detection_rate'])}{_ci(test, f'detection_rate@{key}', True)} | "
            f"{_pct(point['false_positive_rate'])}{_ci(test, f'false_positive_rate@{key}', True)} | "
            f"{point['f1']:.3f}{_ci(test, f'f1@{key}')} |"
        )
    return lines


def _comparison_lines(content: dict[str, Any]) -> list[str]:
    """The candidates side by side, why the chosen one, and the note on class imbalance."""
    lines = [
        "",
        "## Models compared (choice on validation AUC-PR)",
        "",
        "| model | validation AUC-PR | test AUC-ROC | test AUC-PR |",
        "| --- | --- | --- | --- |",
    ]
    for name, item in content["alternatives"].items():
        lines.append(
            f"| {name} | {item['valid_auc_pr']:.3f} | {item['test']['auc_roc']:.3f} | {item['test']['auc_pr']:.3f} |"
        )
    return [*lines, "", content["model_selection"]["why"], "", content["imbalance"]]


def _defence_lines(content: dict[str, Any]) -> list[str]:
    """The poisoning defences and the gate's verdict, then the plots."""
    defences = content["defences"]
    gate = content["gate"]
    lines = [
        "",
        "## Poisoning defences",
        "",
        f"- Envelope from {defences['envelope_source']}; quarantined rows: train {defences['quarantined']['train']}, "
        f"validation {defences['quarantined']['valid']} (per feature: {defences['quarantined_per_feature'] or 'none'}).",
        f"- Anomaly check: {'passed' if defences['anomaly_check']['passed'] else 'FLAGGED: ' + '; '.join(defences['anomaly_check']['flags'])}.",
        f"- Gate (tolerance {gate['tolerance']}): {'promote' if gate['promote'] else 'do NOT promote'} - {'; '.join(gate['reasons'])}.",
        "",
        "## Plots",
        "",
    ]
    return lines + [f"![{name}]({file})" for name, file in content["plots"].items()]


def _data_lines(content: dict[str, Any]) -> list[str]:
    """What became of the table's columns (encoded, left out) and the data warnings."""
    lines: list[str] = []
    if content.get("encoded_columns"):
        lines += ["", "## Text columns encoded (one 0/1 feature per value, blank = missing)", ""]
        lines += [f"- `{n}`: {', '.join(e['one_hot'])}" for n, e in content["encoded_columns"].items()]
    if content.get("left_out_columns"):
        lines += ["", "## Columns left out, and why", ""]
        lines += [f"- `{name}`: {why}" for name, why in content["left_out_columns"].items()]
    if content["warnings"]:
        lines += ["", "## Data warnings", ""] + [f"- {w}" for w in content["warnings"]]
    return lines


def _rate(point: dict[str, Any], digits: int = 1) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.{digits}f}%"

    interval = point.get("ci95") or []
    shown = f"{pct(point['rate'])} ({point['count']}/{point['of']})"
    return shown + (f" [{pct(interval[0])}, {pct(interval[1])}]" if interval else "")


def _truth_lines(truth: dict[str, Any] | None, names: dict[str, str]) -> list[str]:
    """The bands against the simulator's truth (training.operating.truth_bands), when the report has them."""
    if not truth:
        return []
    return [
        "",
        "The same bands against the simulator's truth instead of the labels (what the live-path "
        "evaluation measures, and the interval its gate holds the version to):",
        "",
        "| band | detection rate | false-positive rate |",
        "| --- | --- | --- |",
        *(
            f"| {names.get(band, band)} | {_rate(point['detection'])} | {_rate(point['false_positive'], 2)} |"
            for band, point in truth.items()
        ),
    ]


def operating_lines(op: dict[str, Any]) -> list[str]:
    """The operating point: bands from the validation-fitted policy, detection at the spec's FPR, per scenario."""
    spec = op["spec"]
    at = op["at_spec_fpr"]
    bands = op["bands"]
    names = {
        "two_factor": "REQUIRE_2FA or stricter",
        "review": "MANUAL_REVIEW or BLOCKED",
        "block": "BLOCKED",
    }
    lines = [
        "",
        "## Operating point (policy calibration fitted on validation)",
        "",
        "`fraud_score` = the probability through a monotone piecewise-linear map whose knots put each band "
        "where validation legitimate purchases are flagged at "
        + ", ".join(f"{b} {_pct(r)}" for b, r in op["band_fpr_targets"].items())
        + "; the thresholds stay 0.40 / 0.65 / 0.85 on the score. Test split, 95% Wilson intervals:",
        "",
        "| band (score) | probability cut | detection rate | false-positive rate |",
        "| --- | --- | --- | --- |",
    ]
    for band, point in bands.items():
        lines.append(
            f"| {names.get(band, band)} (>{'=' if band == 'two_factor' else ''} {point['score_threshold']:.2f}) | "
            f"{point['probability_cut']:.4g} | {_rate(point['detection'])} | {_rate(point['false_positive'], 2)} |"
        )
    lines += [
        "",
        f"At a {_pct(spec['false_positive_rate'])} false-positive rate on the test split itself (cut "
        f"{at['probability_cut']:.4g}): detection {_rate(at['detection'])} ({at['detection']['interval']}); "
        f"the spec states {_pct(spec['detection_rate'])} at {_pct(spec['false_positive_rate'])}.",
    ]
    lines += _truth_lines(op.get("truth_bands"), names)
    per = op.get("per_scenario")
    if per:
        lines += [
            "",
            "Per fraud scenario (the simulator's truth; detection = share of the scenario's purchases flagged, "
            "whatever their label):",
            "",
            "| scenario | purchases | labelled fraud | >= 2FA | review or block | blocked | at FPR "
            f"{_pct(spec['false_positive_rate'])} |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, row in per.items():
            lines.append(
                f"| {name} | {row['purchases']} | {row['labelled_fraud']} | {_rate(row['two_factor'])} | "
                f"{_rate(row['review'])} | {_rate(row['block'])} | {_rate(row['at_spec_fpr'])} |"
            )
    return lines

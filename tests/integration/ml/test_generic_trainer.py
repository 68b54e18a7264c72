"""Given labelled CSV files shaped like public datasets (no time column, rows sorted or grouped by label,
text columns), when `ticketguard train --data FILE --label COL` runs, then it splits them stratified at
random (saying so), never leaves a split without a class, encodes the few-valued text columns and keeps
the compiled library equal to XGBoost, and reports what it left out and why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.errors import ValidationFailed
from tests.fixtures.ml import TINY_GRID, require_tool
from tooling.cli import main as ticketguard
from training import registry
from training.data import label_layout, load_csv
from training.splits import time_splits

pytestmark = pytest.mark.slow


def public_like(n: int = 1500, seed: int = 3) -> pd.DataFrame:
    """A card-transactions table of the kind found in public fraud datasets: no timestamp, an id,
    numbers, a few-valued text column that matters, free text, ~5% fraud."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(n) < 0.05
    channel = np.where(fraud & (rng.random(n) < 0.7), "online", rng.choice(["pos", "atm", "online"], n))
    return pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in range(n)],
            "amount": np.round(rng.gamma(2.0, np.where(fraud, 120.0, 40.0)), 2),
            "hour": rng.integers(0, 24, n),
            "channel": channel,
            "country": rng.choice(["FR", "DE", "ES", "IT", ""], n),
            "memo": [f"purchase note {rng.integers(1_000_000)}" for _ in range(n)],
            "Class": fraud.astype(int),
        }
    )


@pytest.fixture(autouse=True)
def _tiny_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's hyperparameter grid cut to one candidate: the suite stays fast, the path is the CLI's."""
    from training import train

    fit = train.fit_xgboost
    monkeypatch.setattr(train, "fit_xgboost", lambda *a, grid=None, **k: fit(*a, grid=grid or TINY_GRID, **k))


def train_cli(path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    arguments = ["--label", "Class", "--out", str(out), "--bootstrap", "10", "--arch", "x86_64"]
    code = ticketguard(["train", "--data", str(path), *arguments])
    printed = capsys.readouterr().out
    assert code == 0, printed
    version = registry.current_version_dir(out)
    assert version is not None
    return json.loads((version / "report.json").read_text()), printed


def test_a_file_sorted_by_label_with_no_time_column_trains_on_a_stratified_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tool("gcc")
    # Given a public-like CSV with its frauds all at the end (sorted by label), no time column
    path = tmp_path / "sorted.csv"
    public_like().sort_values("Class", kind="stable").to_csv(path, index=False)
    # When trained through the CLI
    report, printed = train_cli(path, tmp_path / "models", capsys)
    # Then it says the split is stratified at random and that the file is sorted by label
    assert "stratified random split" in printed and "sorted by label" in printed
    assert report["splits"]["rule"].startswith("stratified random split")
    # And every split holds both classes, at about the file's fraud rate
    rate = sum(report["splits"][s]["frauds"] for s in ("train", "valid", "test")) / report["rows_read"]
    for name in ("train", "valid", "test"):
        window = report["splits"][name]
        assert 0 < window["frauds"] < window["rows"]
        assert window["frauds"] / window["rows"] == pytest.approx(rate, abs=0.01)
    assert report["test"]["auc_roc"] > 0.6


def test_a_file_grouped_by_label_is_detected_and_still_splits_with_both_classes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tool("gcc")
    # Given the same table in blocks: legitimate rows, then frauds, then legitimate, and so on
    frame = public_like(seed=4)
    frame["block"] = np.where(
        frame["Class"] == 1, 2 * (np.arange(len(frame)) % 4) + 1, 2 * (np.arange(len(frame)) % 4)
    )
    path = tmp_path / "grouped.csv"
    frame.sort_values(["block"], kind="stable").drop(columns="block").to_csv(path, index=False)
    # When trained
    report, printed = train_cli(path, tmp_path / "models", capsys)
    # Then the grouping is named (runs counted against a random order) and the splits are stratified
    assert "grouped by label (8 runs" in printed
    assert all(
        0 < report["splits"][s]["frauds"] < report["splits"][s]["rows"] for s in ("train", "valid", "test")
    )


def test_text_columns_with_few_values_are_encoded_and_the_library_still_equals_xgboost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tool("gcc")
    # Given a public-like CSV in random order with a few-valued text column that carries the signal
    path = tmp_path / "text.csv"
    public_like(seed=5).to_csv(path, index=False)
    # When trained
    report, printed = train_cli(path, tmp_path / "models", capsys)
    # Then channel and country are one 0/1 feature per value, blank country = missing
    features = report["features"]
    assert {"channel=atm", "channel=online", "channel=pos", "country=DE", "country=FR"} <= set(features)
    assert report["encoded_columns"]["channel"] == {"one_hot": ["atm", "online", "pos"]}
    # And the compiled library equals XGBoost on the whole test split (the pipeline's check)
    assert report["compilation"]["checks"]["x86_64"]["max_abs_diff"] <= 1e-5
    # And the id is refused, the free text skipped, each listed with its reason in the report
    left_out = report["left_out_columns"]
    assert left_out["customer_id"].startswith("identifies rows")
    assert left_out["memo"].startswith("identifies rows") or "text column" in left_out["memo"]
    page = (registry.current_version_dir(tmp_path / "models") / "report.md").read_text()
    assert "## Columns left out, and why" in page and "`customer_id`: identifies rows" in page
    assert "encoded text column 'channel' one-hot" in printed
    # And the encoded column is what the model leans on
    assert any(item["feature"].startswith("channel=") for item in report["shap_importance"][:3])


def test_label_layouts_are_told_apart() -> None:
    sorted_labels = np.array([0] * 90 + [1] * 10, dtype=np.int8)
    assert (label_layout(sorted_labels) or "").startswith("sorted by label")
    grouped = np.array(([0] * 20 + [1] * 5) * 4, dtype=np.int8)
    assert (label_layout(grouped) or "").startswith("grouped by label (8 runs")
    shuffled = np.random.default_rng(0).permutation(sorted_labels)
    assert label_layout(shuffled) is None


def test_too_few_rows_of_a_class_are_refused_before_a_split_misses_it(tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    rows = [f"{i * 1.5},{int(i >= 38)}" for i in range(40)]  # two frauds, sorted last
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValidationFailed, match="2 fraud row"):
        time_splits(load_csv(path, "y"))

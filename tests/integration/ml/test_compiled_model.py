"""Given a tiny model trained, compiled for x86_64 and arm64 and registered once per session, the
run-time loader (ctypes, no xgboost) must agree with XGBoost, handle missing values like the trees do,
be thread-safe, refuse tampered files, and the arm64 build must agree under qemu-user."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from shared.errors import ConfigurationError, ModelIntegrityError, ValidationFailed
from shared.features.definitions import FEATURE_NAMES
from shared.model import clear_model_cache, load_model, resolve_model_dir
from shared.model.manifest import read_manifest
from tests.fixtures.ml import require_tool
from training import compile as native
from training.data import table_from_training_set
from training.splits import time_splits
from training.synthetic import synthetic_transactions

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_model_cache()


@pytest.fixture(scope="module")
def version_dir(trained_registry: Path) -> Path:
    return resolve_model_dir(trained_registry)


@pytest.fixture(scope="module")
def booster(version_dir: Path) -> xgb.Booster:
    model = xgb.Booster()
    model.load_model(str(version_dir / "model.json"))
    return model


@pytest.fixture(scope="module")
def test_rows() -> np.ndarray:
    """The test split of the data the session model was trained on, as float32 with NaN = missing."""
    splits = time_splits(table_from_training_set(synthetic_transactions(), source="test"))
    return splits.test.features.to_numpy(dtype=np.float32)


def as_values(row: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in row]


def xgb_matrix(rows: np.ndarray) -> xgb.DMatrix:
    return xgb.DMatrix(rows, feature_names=list(FEATURE_NAMES), missing=np.nan)


def test_registry_current_resolves_to_a_verified_model_with_the_feature_order(trained_registry: Path) -> None:
    model = load_model(trained_registry)
    assert model.version == "vtest.1"
    assert model.feature_names == FEATURE_NAMES
    assert (model.thresholds.two_factor, model.thresholds.review, model.thresholds.block) == (
        0.40,
        0.65,
        0.85,
    )
    assert load_model(trained_registry) is model  # cached


def test_model_dir_comes_from_tg_model_dir(
    trained_registry: Path, version_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_MODEL_DIR", str(version_dir))
    from shared.config import get_settings

    get_settings.cache_clear()
    assert load_model().version == "vtest.1"


def test_compiled_probabilities_match_xgboost_on_the_whole_test_split(
    version_dir: Path, booster: xgb.Booster, test_rows: np.ndarray
) -> None:
    model = load_model(version_dir)
    expected = booster.predict(xgb_matrix(test_rows))
    single = np.array([model.probability(as_values(row)) for row in test_rows])
    buffered = np.array(model.predict_buffer(np.ascontiguousarray(test_rows), len(test_rows), threads=2))
    assert np.isnan(test_rows).any(), "the test split must exercise missing values"
    assert np.abs(single - expected).max() <= 1e-5
    assert np.abs(buffered - expected).max() <= 1e-5


def test_the_fraud_score_is_the_probability_through_the_manifests_policy(
    version_dir: Path, booster: xgb.Booster, test_rows: np.ndarray
) -> None:
    # Given the session model, whose manifest holds a policy calibration fitted on validation
    model = load_model(version_dir)
    assert not model.policy.is_identity
    expected = booster.predict(xgb_matrix(test_rows))
    # When scored one row at a time and in a batch
    single = np.array([model.predict(as_values(row)) for row in test_rows])
    batch = np.array(model.predict_batch([as_values(row) for row in test_rows]))
    # Then both are XGBoost's probability through the same monotone map (the policy, not the identity)
    mapped = np.array([model.policy.apply(float(p)) for p in expected])
    assert np.abs(single - mapped).max() <= 1e-4 and np.abs(batch - mapped).max() <= 1e-4
    assert np.abs(single - expected).max() > 1e-3
    order = np.argsort(expected, kind="stable")
    assert (np.diff(single[order]) >= -1e-6).all()  # ranks kept


def test_native_contributions_match_xgboost_pred_contribs(
    version_dir: Path, booster: xgb.Booster, test_rows: np.ndarray
) -> None:
    model = load_model(version_dir)
    rows = test_rows[:300]
    expected = booster.predict(xgb_matrix(rows), pred_contribs=True)
    ours = np.array([model.contributions(as_values(row)) for row in rows])
    assert ours.shape == (len(rows), len(FEATURE_NAMES) + 1)
    assert np.abs(ours - expected).max() <= 1e-4
    margins = np.array([model.predict_margin(as_values(row)) for row in rows])
    assert np.abs(ours.sum(axis=1) - margins).max() <= 1e-4


def test_missing_values_follow_the_default_direction_in_predict_and_contributions(tmp_path: Path) -> None:
    # Given a model where a missing 'signal' means fraud (so the trees learn default directions for it)
    require_tool("gcc")
    rng = np.random.default_rng(5)
    signal = rng.normal(size=3000).astype(np.float32)
    noise = rng.normal(size=3000).astype(np.float32)
    missing = rng.random(3000) < 0.2
    labels = (missing | (signal > 1.5)).astype(int)
    signal[missing] = np.nan
    x = np.column_stack([signal, noise])
    model_booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "base_score": 0.3},
        xgb.DMatrix(x, labels, feature_names=["signal", "noise"]),
        num_boost_round=20,
    )
    built = native.compile_model(model_booster, tmp_path, ("x86_64",))
    from shared.model.compiled import CompiledModel
    from shared.model.manifest import Manifest, ModelThresholds

    manifest = Manifest(
        tmp_path, "vmissing", ("signal", "noise"), ModelThresholds(0.4, 0.65, 0.85), {}, {}, {}
    )
    compiled = CompiledModel(manifest, tmp_path / built["x86_64"]["file"])
    probe = np.array([[np.nan, 0.0], [0.0, 0.0], [np.nan, np.nan]], dtype=np.float32)
    expected = model_booster.predict(xgb.DMatrix(probe, feature_names=["signal", "noise"]))
    expected_phi = model_booster.predict(
        xgb.DMatrix(probe, feature_names=["signal", "noise"]), pred_contribs=True
    )
    # When 'signal' is missing, then the score follows the trees' default (fraud) side, not a zero
    assert compiled.predict([None, 0.0]) == pytest.approx(float(expected[0]), abs=1e-6)
    assert compiled.predict([None, 0.0]) > 0.9 > 0.1 > compiled.predict([0.0, 0.0])
    assert compiled.predict([float("nan"), 0.0]) == compiled.predict([None, 0.0])
    assert compiled.predict({"signal": None, "noise": None}) == pytest.approx(float(expected[2]), abs=1e-6)
    for row, phi in zip(probe, expected_phi, strict=True):
        assert np.abs(np.array(compiled.contributions(as_values(row))) - phi).max() <= 1e-4
    # And the missing signal is what pushed the score up
    assert compiled.top_features([None, 0.0], k=1)[0][0] == "signal"


def test_one_model_serves_many_threads(version_dir: Path, test_rows: np.ndarray) -> None:
    model = load_model(version_dir)
    rows = [as_values(row) for row in test_rows[:64]]
    expected = [model.predict(row) for row in rows]
    expected_phi = [model.contributions(row) for row in rows[:8]]
    failures: list[str] = []

    def worker(offset: int) -> None:
        for i in range(300):
            k = (i + offset) % len(rows)
            if model.predict(rows[k]) != expected[k]:
                failures.append(f"predict row {k}")
            if i % 30 == 0 and model.contributions(rows[k % 8]) != expected_phi[k % 8]:
                failures.append(f"contributions row {k % 8}")

    threads = [threading.Thread(target=worker, args=(n * 7,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_bad_inputs_are_refused_clearly(version_dir: Path) -> None:
    model = load_model(version_dir)
    with pytest.raises(ValidationFailed, match="takes 10 feature values"):
        model.predict([1.0, 2.0])
    with pytest.raises(ValidationFailed, match="must be a number or None"):
        model.predict(["x"] + [0.0] * 9)
    with pytest.raises(ValidationFailed, match="unknown feature"):
        model.predict({"not_a_feature": 1.0})
    with pytest.raises(ValidationFailed, match="contiguous float32"):
        model.predict_buffer(bytearray(12), 1)


def test_a_tampered_library_refuses_to_load(version_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tampered"
    shutil.copytree(version_dir, copy)
    library = copy / read_manifest(copy).libraries[native.host_architecture()]
    data = bytearray(library.read_bytes())
    data[len(data) // 2] ^= 0xFF
    library.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="does not match its manifest SHA-256"):
        load_model(copy)


def test_a_tampered_optional_file_also_refuses_but_an_absent_one_is_fine(
    version_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "subset"
    shutil.copytree(version_dir, copy)
    (copy / "report.md").unlink()  # the Lambda layer leaves the report out
    assert load_model(copy).version == "vtest.1"
    clear_model_cache()
    (copy / "model.json").write_text("{}")
    with pytest.raises(ModelIntegrityError, match=r"model\.json does not match"):
        load_model(copy)


def test_missing_model_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    with pytest.raises(ConfigurationError, match=r"neither manifest\.json nor a CURRENT"):
        load_model(tmp_path)


def test_libraries_need_no_glibc_newer_than_2_34(version_dir: Path) -> None:
    require_tool("readelf")
    manifest = read_manifest(version_dir)
    assert set(manifest.libraries) == {"x86_64", "aarch64"}
    for name in manifest.libraries.values():
        assert native.glibc_requirement(version_dir / name) <= (2, 34), name


def test_arm64_library_agrees_under_qemu(
    version_dir: Path, booster: xgb.Booster, test_rows: np.ndarray, tmp_path: Path
) -> None:
    require_tool("aarch64-linux-gnu-gcc", "qemu-aarch64")
    manifest = read_manifest(version_dir)
    assert (
        "AArch64"
        in subprocess.run(
            ["readelf", "-h", str(version_dir / manifest.libraries["aarch64"])],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    harness = native.build_harness(
        version_dir / manifest.libraries["aarch64"], "aarch64", tmp_path / "harness"
    )
    rows = test_rows[:200]
    output = np.array(native.run_harness(harness, "aarch64", [as_values(row) for row in rows]))
    assert np.abs(output[:, 0] - booster.predict(xgb_matrix(rows))).max() <= 1e-5
    assert np.abs(output[:, 1:] - booster.predict(xgb_matrix(rows), pred_contribs=True)).max() <= 1e-4


def test_loading_and_scoring_imports_no_heavy_ml_library(version_dir: Path) -> None:
    code = (
        "import sys; from shared.model import load_model; "
        f"m = load_model({str(version_dir)!r}); m.predict([None] * 10); m.contributions([1.0] * 10); "
        "print(sorted(n for n in ('numpy', 'pandas', 'xgboost', 'sklearn', 'tl2cgen', 'treelite') if n in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

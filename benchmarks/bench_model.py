"""Model latency: XGBoost inplace_predict vs tl2cgen.Predictor vs our ctypes path, single row and a
10,000-row batch, our native TreeSHAP per row, and the cold import time of `shared.model`.

    make bench-model            (python benchmarks/bench_model.py [--model-dir DIR])

Targets (issue 4): our single row <= 5 us and >= 50x faster than inplace_predict; our batch at least
tl2cgen.Predictor's throughput; `import shared.model` < 150 ms in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def best_of(fn: Callable[[], object], repeat: int, number: int) -> float:
    """Best per-call seconds over `repeat` runs of `number` calls (the least disturbed by the shared CPU)."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        timings.append((time.perf_counter() - start) / number)
    return min(timings)


def import_time(runs: int = 5) -> float:
    code = "import time; t=time.perf_counter(); import shared.model; print(time.perf_counter()-t)"
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples)


def heavy_modules_after_import() -> list[str]:
    code = (
        "import sys, shared.model; m = shared.model.load_model; "
        "print(','.join(n for n in ('numpy','pandas','xgboost','sklearn','tl2cgen','treelite') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--model-dir", type=Path, help="a version directory (default: model_artifacts/CURRENT)"
    )
    args = parser.parse_args()

    import xgboost as xgb

    from shared.model import load_model
    from training.synthetic import synthetic_transactions

    model = load_model(args.model_dir)
    booster = xgb.Booster()
    booster.load_model(str(model.manifest.directory / "model.json"))
    booster.set_param({"nthread": 1})
    print(f"model {model.version}: {model.n_features} features, {model.library_path.name}")

    frame = synthetic_transactions(10_000, seed=11)
    matrix = np.ascontiguousarray(frame[list(model.feature_names)].to_numpy(dtype=np.float32))
    rows = [[None if np.isnan(v) else float(v) for v in row] for row in matrix]
    single, batch, contrib_native, contrib_xgb = measure(model, booster, matrix, rows)
    print_single(single)
    print_batch(batch, len(matrix))
    print("\ncontributions per row (top_features)")
    print(f"  {'ours (native TreeSHAP, ctypes)':<36} {contrib_native * 1e6:10.1f} us")
    print(f"  {'xgboost pred_contribs (1 row)':<36} {contrib_xgb * 1e6:10.1f} us")

    seconds = import_time()
    heavy = heavy_modules_after_import()
    print(
        f"\ncold `import shared.model` (fresh interpreter, median of 5): {seconds * 1e3:.1f} ms "
        f"({'OK' if seconds < 0.150 else 'MISSES'} the target of < 150 ms); heavy modules pulled: {heavy or 'none'}"
    )
    return 0


def measure(
    model: Any, booster: Any, matrix: np.ndarray, rows: list[list[float | None]]
) -> tuple[dict[str, float], dict[str, float], float, float]:
    """Per-call seconds: single row and batch for each predictor, then contributions per row (ours,
    XGBoost's); the predictors are checked to agree first."""
    import tl2cgen
    import treelite
    import xgboost as xgb

    one = matrix[:1]
    row = rows[0]
    with tempfile.TemporaryDirectory() as tmp:
        lib = str(Path(tmp) / "tl2cgen.so")
        tl2cgen.export_lib(treelite.frontend.from_xgboost(booster), toolchain="gcc", libpath=lib, params={})
        predictor = tl2cgen.Predictor(lib, nthread=1)
        predictor_mt = tl2cgen.Predictor(lib)
        dmat_one = tl2cgen.DMatrix(one)
        dmat_all = tl2cgen.DMatrix(matrix)
        check_agreement(model, booster, matrix, rows)
        single = {
            "xgboost inplace_predict": best_of(lambda: booster.inplace_predict(one), 5, 300),
            "tl2cgen.Predictor": best_of(lambda: predictor.predict(dmat_one), 5, 2000),
            "ours (ctypes predict)": best_of(lambda: model.predict(row), 5, 20000),
        }
        buffer = matrix.data.cast("B").cast("f")
        batch = {
            "xgboost inplace_predict": best_of(lambda: booster.inplace_predict(matrix), 5, 5),
            "tl2cgen.Predictor (1 thread)": best_of(lambda: predictor.predict(dmat_all), 5, 5),
            "tl2cgen.Predictor (all threads)": best_of(lambda: predictor_mt.predict(dmat_all), 5, 5),
            "ours predict_buffer (1 thread)": best_of(
                lambda: model.predict_buffer(buffer, len(matrix), threads=1), 5, 5
            ),
            "ours predict_buffer (all threads)": best_of(
                lambda: model.predict_buffer(buffer, len(matrix)), 5, 5
            ),
            "ours predict_batch (Python rows)": best_of(lambda: model.predict_batch(rows), 5, 3),
        }
        contrib_native = best_of(lambda: model.contributions(row), 5, 200)
        contrib_xgb = best_of(
            lambda: booster.predict(
                xgb.DMatrix(one, feature_names=list(model.feature_names)), pred_contribs=True
            ),
            3,
            50,
        )
    return single, batch, contrib_native, contrib_xgb


def check_agreement(model: Any, booster: Any, matrix: np.ndarray, rows: list[list[float | None]]) -> None:
    """Same answers before timing anything."""
    ours = np.asarray(model.predict_buffer(matrix, len(matrix)))
    reference = booster.inplace_predict(matrix)
    assert np.abs(ours - reference).max() < 1e-5, "ctypes path disagrees with XGBoost"
    scores = np.asarray(model.predict_batch(rows))  # the fraud score: the probability through the policy
    mapped = np.array([model.policy.apply(float(p)) for p in reference])
    assert np.abs(scores - mapped).max() < 1e-4, "fraud scores disagree with the policy calibration"


def print_single(single: dict[str, float]) -> None:
    print("\nsingle row (best of 5, per call)")
    for name, seconds in single.items():
        print(f"  {name:<36} {seconds * 1e6:10.2f} us")
    ours_single = single["ours (ctypes predict)"]
    ratio = single["xgboost inplace_predict"] / ours_single
    print(
        f"  -> ours is {ratio:.0f}x faster than inplace_predict (target >= 50x), "
        f"{single['tl2cgen.Predictor'] / ours_single:.1f}x faster than tl2cgen.Predictor; "
        f"{'OK' if ours_single <= 5e-6 and ratio >= 50 else 'MISSES'} the target of <= 5 us"
    )


def print_batch(batch: dict[str, float], n_rows: int) -> None:
    print("\n10,000-row batch (best of 5, per batch)")
    for name, seconds in batch.items():
        print(f"  {name:<36} {seconds * 1e3:10.2f} ms  ({n_rows / seconds / 1e6:6.2f} M rows/s)")
    for mode in ("1 thread", "all threads"):
        ratio = batch[f"tl2cgen.Predictor ({mode})"] / batch[f"ours predict_buffer ({mode})"]
        print(
            f"  -> {mode}: ours (buffer) / tl2cgen.Predictor throughput = {ratio:.2f}x "
            f"({'OK' if ratio >= 1 else 'MISSES'} the target of >= 1x)"
        )


if __name__ == "__main__":
    sys.exit(main())

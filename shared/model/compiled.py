"""ctypes over the compiled model library: tl2cgen's `predict(union Entry*, int pred_margin, float*)` plus
our `tg_contributions` (native TreeSHAP) and `tg_predict_batch`, all in one shared library per architecture.

Two quantities: the model's probability (`probability`, `predict_buffer`: what XGBoost predicts, what
the compiled library returns) and the client's `fraud_score` (`predict`, `predict_batch`): the
probability through the version's policy calibration (shared.model.policy, from the manifest), on
which the decision bands are set. Versions without a calibration score their probability.

`union Entry { int missing; float fvalue; int qvalue; }` is four bytes; a missing value is `missing == -1`.
Each thread fills its own Entry buffer (threading.local), and the C side keeps no mutable state, so one
`CompiledModel` serves any number of threads.
"""

from __future__ import annotations

import ctypes
import math
import threading
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.errors import ModelIntegrityError, ValidationFailed
from shared.model.manifest import Manifest, ModelThresholds
from shared.model.policy import PolicyCalibration

NATIVE_ABI_VERSION = 1
MISSING = -1

Values = Sequence[float | None] | Mapping[str, float | None]


class _ThreadBuffers(threading.local):
    """Per-thread scratch: the Entry array (seen as floats and as ints), the output, the contributions."""

    def __init__(self, n_features: int) -> None:
        self.floats = (ctypes.c_float * n_features)()
        self.ints = (ctypes.c_int32 * n_features).from_buffer(self.floats)
        self.out = (ctypes.c_float * 1)()
        self.phi = (ctypes.c_double * (n_features + 1))()


class CompiledModel:
    """A verified model version bound to its native library for this architecture."""

    def __init__(self, manifest: Manifest, library_path: Path) -> None:
        self.manifest = manifest
        self.version: str = manifest.version
        self.feature_names: tuple[str, ...] = manifest.feature_names
        self.thresholds: ModelThresholds = manifest.thresholds
        self.policy: PolicyCalibration = manifest.policy
        self.library_path = library_path
        self.n_features = len(self.feature_names)
        try:
            lib = ctypes.CDLL(str(library_path))
        except OSError as exc:
            raise ModelIntegrityError(
                f"model {self.version}: cannot load {library_path.name}: {exc}"
            ) from None
        self._lib = lib
        try:
            lib.tg_abi_version.restype = ctypes.c_int32
            lib.get_num_feature.restype = ctypes.c_int32
            self._predict = lib.predict
            self._contributions = lib.tg_contributions
            self._predict_batch = lib.tg_predict_batch
        except AttributeError as exc:
            raise ModelIntegrityError(f"model {self.version}: library lacks a symbol: {exc}") from None
        if lib.tg_abi_version() != NATIVE_ABI_VERSION:
            raise ModelIntegrityError(f"model {self.version}: native ABI {lib.tg_abi_version()} unsupported")
        if lib.get_num_feature() != self.n_features:
            raise ModelIntegrityError(
                f"model {self.version}: library takes {lib.get_num_feature()} features, "
                f"manifest lists {self.n_features}"
            )
        self._predict.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        self._predict.restype = None
        self._contributions.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._contributions.restype = ctypes.c_int32
        self._predict_batch.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int64,
            ctypes.c_int32,
            ctypes.c_int32,
            ctypes.c_void_p,
            ctypes.c_int32,
        ]
        self._predict_batch.restype = ctypes.c_int32
        self._buffers = _ThreadBuffers(self.n_features)
        self._index = {name: i for i, name in enumerate(self.feature_names)}

    def __repr__(self) -> str:
        return f"CompiledModel(version={self.version!r}, features={self.n_features}, library={self.library_path.name!r})"

    # ------------------------------------------------------------------ inputs
    def _ordered(self, values: Values) -> Sequence[Any]:
        if isinstance(values, Mapping):
            unknown = set(values) - self._index.keys()
            if unknown:
                raise ValidationFailed(f"unknown feature(s) for model {self.version}: {sorted(unknown)}")
            return [values.get(name) for name in self.feature_names]
        if isinstance(values, str | bytes) or len(values) != self.n_features:
            raise ValidationFailed(
                f"model {self.version} takes {self.n_features} feature values in manifest order "
                f"{list(self.feature_names)}; got {len(values) if not isinstance(values, str | bytes) else 'a string'}"
            )
        return values

    def _fill(self, values: Values) -> _ThreadBuffers:
        buffers = self._buffers
        floats, ints = buffers.floats, buffers.ints
        for i, value in enumerate(self._ordered(values)):
            if value is None:
                ints[i] = MISSING
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValidationFailed(
                    f"feature {self.feature_names[i]!r} must be a number or None, got {value!r}"
                ) from None
            if number != number:  # NaN is missing too, as in XGBoost
                ints[i] = MISSING
            else:
                floats[i] = number
        return buffers

    # ----------------------------------------------------------------- outputs
    def predict(self, values: Values) -> float:
        """The fraud score for one row (None or NaN = missing, never imputed): the probability through
        the policy calibration, the number the decision bands and the client read."""
        return self.policy.apply(self.probability(values))

    def probability(self, values: Values) -> float:
        """The model's fraud probability for one row (XGBoost's prediction)."""
        buffers = self._fill(values)
        buffers.out[0] = 0.0  # the generated predict() accumulates into its output
        self._predict(buffers.floats, 0, buffers.out)
        return float(buffers.out[0])

    def predict_margin(self, values: Values) -> float:
        """Raw score in log-odds (what `contributions` sums to)."""
        buffers = self._fill(values)
        buffers.out[0] = 0.0
        self._predict(buffers.floats, 1, buffers.out)
        return float(buffers.out[0])

    def predict_batch(self, rows: Sequence[Values], *, threads: int = 0) -> list[float]:
        """Fraud scores for many rows in one native call (threads <= 0: one per CPU for big batches)."""
        flat = array("f")
        for row in rows:
            for value in self._ordered(row):
                if value is None:
                    flat.append(math.nan)
                    continue
                try:
                    flat.append(float(value))
                except (TypeError, ValueError):
                    raise ValidationFailed(f"feature values must be numbers or None, got {value!r}") from None
        apply = self.policy.apply
        return [apply(p) for p in self.predict_buffer(flat, len(rows), threads=threads)]

    def predict_buffer(self, buffer: Any, n_rows: int, *, threads: int = 0) -> array[float]:
        """Probabilities (not fraud scores) for `n_rows` rows given as any C-contiguous float32 buffer
        (row-major, NaN = missing), e.g. `array('f')` or a float32 NumPy array, read in place; returns an
        `array('f')`. `self.policy.apply` turns one into a fraud score."""
        view = memoryview(buffer)
        if view.format != "f" or view.nbytes != n_rows * self.n_features * 4 or not view.c_contiguous:
            raise ValidationFailed(
                f"expected {n_rows} x {self.n_features} contiguous float32 values, got format "
                f"{view.format!r} with {view.nbytes} bytes"
            )
        out = array("f", bytes(4 * n_rows))
        if n_rows == 0:
            return out
        source: Any = buffer if not view.readonly else bytearray(view)
        data = (ctypes.c_char * view.nbytes).from_buffer(source)
        target = (ctypes.c_char * (4 * n_rows)).from_buffer(out)
        status = self._predict_batch(data, n_rows, self.n_features, 0, target, threads)
        if status != 0:
            raise ValidationFailed(f"native batch prediction refused the input (status {status})")
        return out

    def contributions(self, values: Values) -> list[float]:
        """Per-feature SHAP values in log-odds, manifest order, then the bias (len = n_features + 1);
        they sum to `predict_margin(values)`. Exact TreeSHAP in native code, like XGBoost's pred_contribs."""
        buffers = self._fill(values)
        self._contributions(buffers.floats, buffers.phi)
        return list(buffers.phi)

    def top_features(self, values: Values, k: int = 3) -> list[tuple[str, float]]:
        """The k features that pushed this score most (largest |contribution|), with their contributions."""
        phi = self.contributions(values)[: self.n_features]
        order = sorted(range(self.n_features), key=lambda i: abs(phi[i]), reverse=True)
        return [(self.feature_names[i], phi[i]) for i in order[: max(k, 0)]]

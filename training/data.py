"""Labelled tables for training: the simulator/ETL training set, or any CSV a user brings.

The CSV path is forgiving about shape and strict about meaning: blank cells are missing values,
duplicate rows are dropped, text columns with few values are one-hot encoded (one 0/1 column per value,
blank = missing), other text columns and empty columns are skipped, columns that identify rows rather
than describe them are left out (each with a warning naming the columns), and a label that is absent
or not binary is refused with a clear message. Without a time column the file's order means nothing:
a file sorted or grouped by label is detected and said (the splits are then stratified, not by order).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shared.errors import ValidationFailed
from shared.features.definitions import FEATURE_NAMES, SIGNAL_NAMES

TRUE_WORDS = {"1", "1.0", "true", "t", "yes", "y", "fraud"}
FALSE_WORDS = {"0", "0.0", "false", "f", "no", "n", "legit", "legitimate"}
TIME_NAMES = ("occurred_at", "timestamp", "time", "datetime", "date", "created_at", "event_time")
ID_NAME = re.compile(r"(^|_)(id|uuid|guid|hash|address|wallet|index|row|rownum|key)s?$", re.IGNORECASE)
# A mostly-numeric column keeps its numbers when at most this share of its non-blank cells is junk.
NUMERIC_JUNK_TOLERANCE = 0.05
# A text column is encoded (one-hot) when it has at most this many distinct values, each seen on average
# at least twice; more looks like free text or a key, and is skipped.
MAX_CATEGORIES = 20


@dataclass
class LabelledTable:
    features: pd.DataFrame  # float64 columns, the model's feature order
    labels: np.ndarray  # int8 0/1
    times: pd.Series | None  # UTC timestamps for time-based splits, None when the source has none
    source: str
    warnings: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    rows_read: int = 0
    # Per row, the fraud scenario that made it (the simulator's truth), for the per-scenario report.
    scenarios: pd.Series | None = None
    # Text columns encoded one-hot: column -> its values, in the order of their feature columns.
    encoded: dict[str, list[str]] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return list(self.features.columns)

    def subset(self, rows: np.ndarray) -> LabelledTable:
        """Rows by boolean mask or positions."""
        return LabelledTable(
            features=self.features.iloc[rows].reset_index(drop=True),
            labels=self.labels[rows],
            times=None if self.times is None else self.times.iloc[rows].reset_index(drop=True),
            source=self.source,
            warnings=self.warnings,
            left_out=self.left_out,
            rows_read=self.rows_read,
            scenarios=None if self.scenarios is None else self.scenarios.iloc[rows].reset_index(drop=True),
            encoded=self.encoded,
        )


def parse_binary_label(column: pd.Series, name: str) -> pd.Series:
    """0/1 (as Int8 with <NA> for blanks) or ValidationFailed naming the offending values."""
    if column.dtype == bool:
        return column.astype("Int8")
    text = column.astype("string").str.strip().str.lower()
    text = text.mask(text == "")
    values = set(text.dropna().unique())
    unknown = values - TRUE_WORDS - FALSE_WORDS
    if unknown:
        shown = sorted(str(v) for v in unknown)[:5]
        raise ValidationFailed(
            f"label column {name!r} is not binary: found values {shown}; expected 0/1, true/false or yes/no"
        )
    labels = text.map(lambda v: pd.NA if pd.isna(v) else int(v in TRUE_WORDS)).astype("Int8")
    present = set(labels.dropna().unique())
    if present != {0, 1}:
        raise ValidationFailed(
            f"label column {name!r} has only one class ({sorted(present) or 'no values'}); need frauds and non-frauds"
        )
    return labels


def _as_time(column: pd.Series) -> pd.Series | None:
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = column
    elif column.dtype == object or pd.api.types.is_string_dtype(column):
        parsed = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
    else:
        return None
    non_blank = column.notna().sum()
    if non_blank == 0 or parsed.notna().sum() < 0.95 * non_blank:
        return None
    return pd.to_datetime(parsed, utc=True)


def _numeric(column: pd.Series) -> tuple[pd.Series | None, int]:
    """(float column, junk cells coerced to missing) or (None, 0) for a text column."""
    if column.dtype == bool:
        return column.astype("float64"), 0
    if pd.api.types.is_numeric_dtype(column):
        return column.astype("float64"), 0
    text = column.astype("string").str.strip()
    text = text.mask(text == "")
    lowered = text.str.lower()
    if lowered.dropna().isin({"true", "false"}).all() and lowered.notna().any():
        return lowered.map({"true": 1.0, "false": 0.0}).astype("float64"), 0
    numbers = pd.to_numeric(text, errors="coerce")
    non_blank = int(text.notna().sum())
    junk = int(non_blank - numbers.notna().sum())
    if non_blank == 0 or junk > NUMERIC_JUNK_TOLERANCE * non_blank:
        return None, 0
    return numbers.astype("float64"), junk


def _identifies_rows(name: str, column: pd.Series, numeric: pd.Series | None) -> bool:
    """Unique per row and shaped like an id: text, integral numbers, or an id-like name."""
    values = column.dropna()
    if len(values) < 2 or len(values) < len(column) or values.nunique() != len(values):
        return False
    if numeric is None or ID_NAME.search(name.strip()):
        return True
    return bool(np.all(np.mod(numeric.to_numpy(), 1.0) == 0.0))


def _categories(column: pd.Series) -> list[str] | None:
    """The values of a text column worth encoding (few, repeated), sorted; None for free text."""
    text = column.astype("string").str.strip()
    values = text.mask(text == "").dropna()
    distinct = sorted(values.unique())
    if not distinct or len(distinct) > MAX_CATEGORIES or len(distinct) > len(values) / 2:
        return None
    return [str(v) for v in distinct]


def one_hot(name: str, column: pd.Series, categories: list[str]) -> dict[str, pd.Series]:
    """One 0/1 float column per category, named `name=value`; a blank cell is missing in all of them."""
    text = column.astype("string").str.strip()
    blank = (text.mask(text == "").isna()).to_numpy()
    encoded = {}
    for value in categories:
        indicator = (text == value).fillna(False).to_numpy(dtype=np.float64)
        indicator[blank] = np.nan
        # XGBoost refuses '[', ']' and '<' in feature names.
        encoded[re.sub(r"[\[\]<]", "_", f"{name}={value}")] = pd.Series(indicator, index=column.index)
    return encoded


def label_layout(labels: np.ndarray) -> str | None:
    """'sorted' / 'grouped' when the file's order follows the label, else None.

    Grouped: far fewer runs of equal labels than a random order gives (1 + 2 n0 n1 / n expected)."""
    n = len(labels)
    if n < 2:
        return None
    runs = 1 + int(np.count_nonzero(labels[1:] != labels[:-1]))
    if runs <= 2:
        return f"sorted by label (one block of each class, {'frauds last' if labels[-1] else 'frauds first'})"
    positives = int(labels.sum())
    expected = 1 + 2 * positives * (n - positives) / n
    if runs < 0.5 * expected:
        return (
            f"grouped by label ({runs} runs of equal labels where a random order gives about {expected:.0f})"
        )
    return None


def load_csv(
    path: str | Path,
    label: str,
    *,
    exclude: Sequence[str] = (),
    time_column: str | None = None,
) -> LabelledTable:
    path = Path(path)
    if not path.is_file():
        raise ValidationFailed(f"no such file: {path}")
    try:
        raw = pd.read_csv(path, skipinitialspace=True, dtype=object, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read {path} as CSV: {exc}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    return table_from_frame(raw, label, exclude=exclude, time_column=time_column, source=f"csv:{path.name}")


def table_from_frame(
    raw: pd.DataFrame,
    label: str,
    *,
    exclude: Sequence[str] = (),
    time_column: str | None = None,
    source: str,
) -> LabelledTable:
    _check_named_columns(raw, label, exclude, time_column)
    warnings: list[str] = []
    left_out: dict[str, str] = {}
    rows_read = len(raw)
    raw, labels = _labelled_rows(raw, label, warnings)
    times = _time_column(raw, labels, time_column, left_out, warnings)
    left_out.update(dict.fromkeys(exclude, "excluded by --exclude"))
    columns, encoded = _feature_columns(raw, label, left_out, warnings)
    return LabelledTable(
        features=pd.DataFrame(columns),
        labels=labels.to_numpy(dtype=np.int8),
        times=times,
        source=source,
        warnings=warnings,
        left_out=left_out,
        rows_read=rows_read,
        encoded=encoded,
    )


def _check_named_columns(
    raw: pd.DataFrame, label: str, exclude: Sequence[str], time_column: str | None
) -> None:
    """The label, the excluded columns and the time column the caller names are columns of the file."""
    if label not in raw.columns:
        raise ValidationFailed(f"label column {label!r} not found; columns are {list(raw.columns)}")
    unknown_excluded = [c for c in exclude if c not in raw.columns]
    if unknown_excluded:
        raise ValidationFailed(f"--exclude names unknown column(s) {unknown_excluded}")
    if time_column is not None and time_column not in raw.columns:
        raise ValidationFailed(f"time column {time_column!r} not found; columns are {list(raw.columns)}")


def _labelled_rows(raw: pd.DataFrame, label: str, warnings: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """The rows without duplicates and without a blank label, and their labels."""
    duplicates = int(raw.duplicated().sum())
    if duplicates:
        raw = raw.drop_duplicates().reset_index(drop=True)
        warnings.append(f"dropped {duplicates} duplicate row(s)")
    labels = parse_binary_label(raw[label], label)
    unlabelled = int(labels.isna().sum())
    if unlabelled:
        keep = labels.notna().to_numpy()
        raw, labels = raw[keep].reset_index(drop=True), labels[keep].reset_index(drop=True)
        warnings.append(f"dropped {unlabelled} row(s) with a blank label")
    return raw, labels


def _time_column(
    raw: pd.DataFrame,
    labels: pd.Series,
    time_column: str | None,
    left_out: dict[str, str],
    warnings: list[str],
) -> pd.Series | None:
    """The rows' times from the named time column or the first column named like one; without one, a
    warning that the splits are stratified (and whether the file's order follows the label)."""
    candidates = [time_column] if time_column else [c for c in raw.columns if c.lower() in TIME_NAMES]
    for name in candidates:
        parsed = _as_time(raw[name])
        if parsed is None:
            if time_column:
                raise ValidationFailed(f"time column {time_column!r} does not hold parseable timestamps")
            continue
        left_out[name] = "time column: used to split by time, not as a feature"
        return parsed
    warnings.append(
        "no time column found: training, validation and test are a stratified random split (each keeps "
        "the fraud rate), not a split by time, so the test figures do not show how the model ages"
    )
    layout = label_layout(labels.to_numpy(dtype=np.int8))
    if layout:
        warnings.append(f"the file's rows are {layout}: its order is not time order and is not used")
    return None


def _feature_columns(
    raw: pd.DataFrame, label: str, left_out: dict[str, str], warnings: list[str]
) -> tuple[dict[str, pd.Series], dict[str, list[str]]]:
    """Feature name -> column (numbers, or a one-hot text column's 0/1 columns) and the encoded text
    columns' values; the skipped columns go to `left_out`, each kind with one warning."""
    columns: dict[str, pd.Series] = {}
    encoded: dict[str, list[str]] = {}
    skipped: dict[str, list[str]] = {"empty": [], "text": [], "identifiers": []}
    for name in raw.columns:
        if name == label or name in left_out:
            continue
        column = raw[name]
        if column.isna().all() or column.astype("string").str.strip().replace("", pd.NA).isna().all():
            skipped["empty"].append(name)
            continue
        numeric, junk = _numeric(column)
        if _identifies_rows(name, column, numeric):
            skipped["identifiers"].append(name)
        elif numeric is not None:
            columns[name] = _clean_numbers(name, numeric, junk, warnings)
        elif (categories := _categories(column)) is None:
            skipped["text"].append(name)
        else:
            encoded[name] = categories
            columns.update(one_hot(name, column, categories))
    _say_skipped(skipped, encoded, left_out, warnings)
    if not columns:
        raise ValidationFailed("no numeric feature column left to train on after skipping " + str(left_out))
    return columns, encoded


def _clean_numbers(name: str, numeric: pd.Series, junk: int, warnings: list[str]) -> pd.Series:
    """A numeric column with its junk and infinite cells read as missing, each with a warning."""
    if junk:
        warnings.append(f"column {name!r}: {junk} non-numeric cell(s) read as missing")
    infinite = int(np.isinf(numeric.to_numpy()).sum())
    if infinite:
        numeric = numeric.replace([np.inf, -np.inf], np.nan)
        warnings.append(f"column {name!r}: {infinite} infinite value(s) read as missing")
    return numeric


def _say_skipped(
    skipped: dict[str, list[str]],
    encoded: dict[str, list[str]],
    left_out: dict[str, str],
    warnings: list[str],
) -> None:
    for names, why in (
        (skipped["empty"], "empty column"),
        (
            skipped["text"],
            f"text column with too many distinct values to encode (over {MAX_CATEGORIES} or mostly unique)",
        ),
        (skipped["identifiers"], "identifies rows (unique per row), does not describe them"),
    ):
        if names:
            warnings.append(f"skipped {why}: {', '.join(names)}")
            left_out.update(dict.fromkeys(names, why))
    for name, categories in encoded.items():
        warnings.append(f"encoded text column {name!r} one-hot: {len(categories)} value(s) {categories}")


def table_from_training_set(frame: pd.DataFrame, source: str) -> LabelledTable:
    """The ETL training set (transaction_id, occurred_at, FEATURE_NAMES..., the signals of
    SIGNAL_NAMES when the set has them, is_fraud), features in the one fixed order (MODEL_FEATURES),
    whatever the values look like (a constant column stays: scoring sends every one). A set exported
    before the signals existed (no such column, or the column empty) trains on the ten."""
    missing = [c for c in ("occurred_at", "is_fraud", *FEATURE_NAMES) if c not in frame.columns]
    if missing:
        raise ValidationFailed(f"training set lacks column(s) {missing}")
    frame = frame.sort_values("occurred_at", kind="stable").reset_index(drop=True)
    labels = parse_binary_label(frame["is_fraud"], "is_fraud")
    keep = labels.notna().to_numpy()
    warnings = [] if keep.all() else [f"dropped {int((~keep).sum())} row(s) with no label"]
    frame, labels = frame[keep].reset_index(drop=True), labels[keep].reset_index(drop=True)
    # A signal column with no value at all (a set exported before the signals existed, written in
    # today's columns) carries nothing to learn: the set trains on the ten, comparable with such a model.
    names = [*FEATURE_NAMES, *(n for n in SIGNAL_NAMES if n in frame.columns and frame[n].notna().any())]
    features = frame[names].apply(pd.to_numeric, errors="coerce").astype("float64")
    return LabelledTable(
        features=features,
        labels=labels.to_numpy(dtype=np.int8),
        times=pd.to_datetime(frame["occurred_at"], utc=True),
        source=source,
        warnings=warnings,
        left_out={"transaction_id": "identifies rows", "occurred_at": "time column"},
        rows_read=len(keep),
        scenarios=frame["scenario"].astype("string").reset_index(drop=True) if "scenario" in frame else None,
    )

"""Splits by time, the way the model is used: train on the past, choose on the recent past, test on the
latest period; the test split is touched only by the final evaluation and the gate. A table with no time
column has no past: it is split at random, stratified by label (each split keeps the fraud rate and
holds both classes), whatever order its rows come in (a file sorted by label is common)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shared.errors import ValidationFailed
from training.data import LabelledTable

WEEK = pd.Timedelta(days=7)


@dataclass
class Splits:
    train: LabelledTable
    valid: LabelledTable
    test: LabelledTable
    rule: str
    windows: dict[str, dict[str, str | int]]


def _window(table: LabelledTable) -> dict[str, str | int]:
    info: dict[str, str | int] = {"rows": len(table.labels), "frauds": int(table.labels.sum())}
    if table.times is not None and len(table.times):
        info["start"] = table.times.min().isoformat()
        info["end"] = table.times.max().isoformat()
    return info


def time_splits(
    table: LabelledTable, *, valid_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> Splits:
    """Last week = test and the week before = validation when the data spans at least three weeks;
    otherwise the last `test_fraction` and the `valid_fraction` before it, in time order. Without times:
    a stratified random split of those fractions (`seed`), each split's rows in a random order."""
    n = len(table.labels)
    if table.times is not None:
        order = np.argsort(table.times.to_numpy(), kind="stable")
        table = table.subset(order)
        assert table.times is not None
        end = table.times.max()
        span = end - table.times.min()
        if span >= 3 * WEEK:
            test_mask = (table.times > end - WEEK).to_numpy()
            valid_mask = ((table.times > end - 2 * WEEK) & (table.times <= end - WEEK)).to_numpy()
            rule = "by time: test = the last 7 days, validation = the 7 days before, training = earlier"
        else:
            test_mask, valid_mask = _fraction_masks(n, valid_fraction, test_fraction)
            rule = (
                f"by time (data spans {span}, under 3 weeks): test = the latest {test_fraction:.0%} of rows, "
                f"validation = the {valid_fraction:.0%} before, training = earlier"
            )
    else:
        test_mask, valid_mask = _stratified_masks(table.labels, valid_fraction, test_fraction, seed)
        rule = (
            f"stratified random split (no time column): test = {test_fraction:.0%} and validation = "
            f"{valid_fraction:.0%} of each class's rows, training = the rest (seed {seed})"
        )
    train_mask = ~(test_mask | valid_mask)
    order = np.random.default_rng(seed).permutation(n) if table.times is None else np.arange(n)
    parts = {
        name: table.subset(order[mask[order]])
        for name, mask in (("train", train_mask), ("valid", valid_mask), ("test", test_mask))
    }
    for name, part in parts.items():
        positives = int(part.labels.sum())
        if positives == 0 or positives == len(part.labels):
            raise ValidationFailed(
                f"the {name} split ({len(part.labels)} rows) has {positives} fraud(s): both classes are needed "
                "in every split; bring more (or longer) data"
            )
    return Splits(
        train=parts["train"],
        valid=parts["valid"],
        test=parts["test"],
        rule=rule,
        windows={name: _window(part) for name, part in parts.items()},
    )


def _stratified_masks(
    labels: np.ndarray, valid_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    test, valid = np.zeros(len(labels), dtype=bool), np.zeros(len(labels), dtype=bool)
    for value, name in ((1, "fraud"), (0, "legitimate")):
        rows = rng.permutation(np.flatnonzero(labels == value))
        n_test, n_valid = max(1, round(len(rows) * test_fraction)), max(1, round(len(rows) * valid_fraction))
        if len(rows) - n_test - n_valid < 1:
            raise ValidationFailed(
                f"{len(rows)} {name} row(s) are too few: every split (training, validation, test) needs "
                "both classes; bring at least 3 of each"
            )
        test[rows[:n_test]] = True
        valid[rows[n_test : n_test + n_valid]] = True
    return test, valid


def _fraction_masks(n: int, valid_fraction: float, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    n_test = max(1, round(n * test_fraction))
    n_valid = max(1, round(n * valid_fraction))
    if n - n_test - n_valid < 2:
        raise ValidationFailed(f"{n} rows are too few to split into training, validation and test")
    index = np.arange(n)
    return index >= n - n_test, (index >= n - n_test - n_valid) & (index < n - n_test)

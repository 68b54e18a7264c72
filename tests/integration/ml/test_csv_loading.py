"""Given a user's labelled CSV, when it is loaded for training, then shape problems are tolerated with
warnings naming the columns, and meaning problems (the label) are refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import ValidationFailed
from training.data import load_csv

MESSY = """row,tx_hash,wallet_address,amount,velocity,comment,empty_col,when,is_fraud
1,0xaa,0x01,10.5,1,hello,,2026-01-01T00:00:00Z,0
2,0xab,0x02,,2,world,,2026-01-02T00:00:00Z,1
3,0xac,0x03,12.25,3,again,,2026-01-03T00:00:00Z,0
3,0xac,0x03,12.25,3,again,,2026-01-03T00:00:00Z,0
4,0xad,0x04,13.0,4,hello,,2026-01-04T00:00:00Z,1
5,0xae,0x05,14.75,,world,,2026-01-05T00:00:00Z,0
6,0xaf,0x06,15.5,6,again,,2026-01-06T00:00:00Z,
"""


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_messy_table_keeps_numeric_features_and_names_what_it_skipped(tmp_path: Path) -> None:
    # Given a CSV with ids, addresses, text, an empty column, a duplicate row, blank cells, a blank label
    path = write(tmp_path, MESSY)
    # When it is loaded
    table = load_csv(path, "is_fraud", time_column="when")
    # Then only the describing numeric columns are features, blanks stay missing
    assert table.feature_names == ["amount", "velocity"]
    assert table.features["amount"].isna().sum() == 1
    assert len(table.labels) == 5  # duplicate and unlabelled rows dropped
    warnings = "\n".join(table.warnings)
    assert "1 duplicate row" in warnings
    assert "blank label" in warnings
    assert "empty_col" in warnings
    assert "comment" in warnings
    for identifier in ("row", "tx_hash", "wallet_address"):
        assert table.left_out[identifier].startswith("identifies rows")
    assert table.left_out["when"].startswith("time column")
    assert table.times is not None and table.times.is_monotonic_increasing


def test_exclude_leaves_a_column_out(tmp_path: Path) -> None:
    table = load_csv(write(tmp_path, MESSY), "is_fraud", exclude=["velocity"])
    assert "velocity" not in table.feature_names
    assert table.left_out["velocity"] == "excluded by --exclude"


def test_missing_label_column_is_refused_with_the_columns_listed(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match=r"label column 'fraud' not found; columns are \['row'"):
        load_csv(write(tmp_path, MESSY), "fraud")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["0", "1", "2", "1"], "not binary"),
        (["0", "0", "0", "0"], "only one class"),
        (["a", "b", "a", "b"], "not binary"),
    ],
)
def test_non_binary_label_is_refused(tmp_path: Path, values: list[str], message: str) -> None:
    rows = "\n".join(f"{i * 1.5},{v}" for i, v in enumerate(values))
    with pytest.raises(ValidationFailed, match=message):
        load_csv(write(tmp_path, "x,y\n" + rows + "\n"), "y")


def test_word_labels_and_mostly_numeric_columns_are_understood(tmp_path: Path) -> None:
    rows = ["x,score,y"] + [
        f"{i % 7}.5,{'oops' if i == 3 else i * 0.5},{'yes' if i % 4 == 0 else 'no'}" for i in range(40)
    ]
    table = load_csv(write(tmp_path, "\n".join(rows) + "\n"), "y")
    assert table.labels.sum() == 10
    assert table.feature_names == ["x", "score"]
    assert table.features["score"].isna().sum() == 1
    assert any("score" in w and "non-numeric" in w for w in table.warnings)
    assert any("stratified random split" in w for w in table.warnings)


def test_unique_measurements_are_kept_but_unique_integers_are_ids(tmp_path: Path) -> None:
    # Given a continuous measurement that happens to be unique per row, and an integer counter
    rows = ["counter,price,label"] + [f"{1000 + i},{i * 1.37 + 0.01:.2f},{i % 2}" for i in range(30)]
    table = load_csv(write(tmp_path, "\n".join(rows) + "\n"), "label")
    assert table.feature_names == ["price"]
    assert "counter" in table.left_out


def test_a_table_with_no_numeric_feature_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="no numeric feature"):
        load_csv(write(tmp_path, "name,label\na,0\nb,1\nc,0\na,1\n"), "label")


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="no such file"):
        load_csv(tmp_path / "absent.csv", "y")

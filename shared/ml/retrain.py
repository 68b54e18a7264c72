"""Scheduled retraining on production data (the retrain Lambda calls `retrain`).

Bi-weekly: EventBridge fires every Sunday 02:00 UTC with `{"cadence": "biweekly"}` and only even ISO
weeks train (cron cannot express "every other Sunday"); an invocation without a cadence (emergency
retrain on drift) always trains. The window is the `weeks` before `now - LABEL_SETTLING`, so labels
(chargebacks arrive up to 30 days late) are settled. The model in service (`current_model_dir`, the
model layer at /opt/model) is the gate's baseline. The new version is uploaded to
`s3://<archive bucket>/models/<version>/`, and `models/CURRENT` is rewritten only when the gate promotes
it; deployment builds the model layer from there.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from shared.errors import ValidationFailed
from shared.ml.sources import LABEL_SETTLING

S3_PREFIX = "models/"


def should_run(now: datetime, cadence: str | None) -> tuple[bool, str]:
    week = now.isocalendar().week
    if cadence is None:
        return True, "on demand"
    if cadence != "biweekly":
        return False, f"unknown cadence {cadence!r}"
    if week % 2:
        return False, f"ISO week {week} is odd: bi-weekly retraining runs on even weeks"
    return True, f"ISO week {week} is even"


@dataclass
class RetrainResult:
    version: str
    promoted: bool
    gate_reasons: list[str]
    test_rows: int
    test_frauds: int
    auc_pr: float
    uploaded: list[str]


def retrain(
    conn: psycopg.Connection,
    *,
    now: datetime,
    weeks: int,
    current_model_dir: Path | None,
    architectures: tuple[str, ...],
    bucket: str | None,
    s3_client: Any = None,
    n_boot: int = 500,
) -> RetrainResult:
    from shared.features.training import build_training_set
    from shared.ml.data import table_from_training_set
    from shared.ml.pipeline import TrainOptions, run_training

    end = now - LABEL_SETTLING
    start = end - timedelta(weeks=weeks)
    frame = build_training_set(conn, start, end)
    if frame.empty:
        raise ValidationFailed(f"no transactions between {start:%Y-%m-%d} and {end:%Y-%m-%d} to train on")
    table = table_from_training_set(frame, source="production")
    with tempfile.TemporaryDirectory(prefix="tg-retrain-") as tmp:
        outcome = run_training(
            table,
            TrainOptions(
                out_root=Path(tmp),
                training_source=f"production intel.* {start:%Y-%m-%d}..{end:%Y-%m-%d}",
                architectures=architectures,
                current_model_dir=current_model_dir,
                n_boot=n_boot,
            ),
        )
        uploaded = upload_version(outcome.directory, bucket, outcome.promoted, s3_client) if bucket else []
    test = outcome.report["test"]
    return RetrainResult(
        version=outcome.version,
        promoted=outcome.promoted,
        gate_reasons=list(outcome.report["gate"]["reasons"]),
        test_rows=test["rows"],
        test_frauds=test["frauds"],
        auc_pr=test["auc_pr"],
        uploaded=uploaded,
    )


def upload_version(directory: Path, bucket: str, promoted: bool, s3_client: Any = None) -> list[str]:
    """Every file of the version under models/<version>/, then (if promoted) the CURRENT pointer last,
    so a reader never sees CURRENT name an incomplete upload."""
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3")
    keys = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        key = f"{S3_PREFIX}{directory.name}/{path.relative_to(directory).as_posix()}"
        s3_client.upload_file(str(path), bucket, key)
        keys.append(key)
    if promoted:
        s3_client.put_object(Bucket=bucket, Key=f"{S3_PREFIX}CURRENT", Body=(directory.name + "\n").encode())
        keys.append(f"{S3_PREFIX}CURRENT")
    return keys

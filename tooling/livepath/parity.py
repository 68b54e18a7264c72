"""Training/serving parity on the live path: for each purchase the scoring handler decided, the features
it served (intel.fraud_predictions.features, stored with the decision) beside the row the training-set
builder gives the same purchase (shared.features.training.training_rows: the point-in-time features
the model learns from). The builder is written to serve each row exactly what scoring served; a
feature whose values disagree on more than SKEW_SHARE of the purchases is reported as skewed: the
model meets at serving time something other than what it learned.

Left out: degraded answers (Redis unavailable: PostgreSQL alone serves, by design without the
purchases scored but not yet loaded), and the purchases of a wallet after the service blocked one of
its purchases. The simulated
marketplace does not react to decisions, so the blocked purchase still happens there and enters the
training rows' history, while scoring (rightly) never counted it in the wallet's real-time windows."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

SKEW_SHARE = 0.01
RELATIVE_TOLERANCE = 1e-6
EXAMPLES = 3


def _equal(served: Any, built: Any) -> bool:
    if served is None or built is None:
        return served is None and built is None
    served, built = float(served), float(built)
    return abs(served - built) <= RELATIVE_TOLERANCE * max(1.0, abs(served), abs(built))


def compare(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> dict[str, Any]:
    """Per feature: purchases compared, how many disagree, a few examples; `skewed`: the features past
    SKEW_SHARE. Only purchases the model scored (features stored) are compared."""
    from shared.features.definitions import FEATURE_NAMES
    from shared.features.training import training_rows

    served: dict[str, dict[str, Any]] = {}
    blocked: set[str] = set()  # wallets the service has blocked a purchase of, so far
    after_block = degraded_answers = 0
    for txn, wallet, decision, degraded, features in conn.execute(
        "SELECT transaction_id, wallet_address, decision, degraded, features FROM intel.fraud_predictions"
        " WHERE created_at >= %s AND created_at < %s ORDER BY created_at, transaction_id",
        (start, end),
    ):
        if wallet in blocked:
            after_block += 1
        elif degraded:
            degraded_answers += 1
        elif features:  # a blocklisted purchase is decided without features
            served[txn] = features if isinstance(features, dict) else json.loads(features)
        if decision == "BLOCKED":
            blocked.add(wallet)
    compared = 0
    mismatches = dict.fromkeys(FEATURE_NAMES, 0)
    examples: dict[str, list[dict[str, Any]]] = {name: [] for name in FEATURE_NAMES}
    for row in training_rows(conn, start, end):
        txn, values = row[0], row[2 : 2 + len(FEATURE_NAMES)]
        if txn not in served:
            continue
        compared += 1
        for name, built in zip(FEATURE_NAMES, values, strict=True):
            value = served[txn].get(name)
            if not _equal(value, built):
                mismatches[name] += 1
                if len(examples[name]) < EXAMPLES:
                    examples[name].append({"transaction_id": txn, "served": value, "training": built})
    features = {
        name: {
            "mismatched": mismatches[name],
            "share": mismatches[name] / compared if compared else None,
            "examples": examples[name],
        }
        for name in FEATURE_NAMES
    }
    skewed = [name for name, f in features.items() if compared and f["share"] > SKEW_SHARE]
    return {
        "compared_candidates": len(served),
        "left_out_after_a_block": after_block,
        "left_out_degraded": degraded_answers,
        "compared": compared,
        "tolerance": {"share": SKEW_SHARE, "relative": RELATIVE_TOLERANCE},
        "features": features,
        "skewed": skewed,
    }


SERVED_SQL = """
SELECT p.transaction_id, t.scenario, p.decision, p.fraud_score, p.degraded, p.features
  FROM intel.fraud_predictions p JOIN sim.truth t USING (transaction_id)
 ORDER BY p.transaction_id
"""


def write_served_features(database_url: str, path: Path) -> int:
    """Each decided purchase of a replayed cell (its served features, score, decision and the simulator's
    scenario) as CSV: what tells a live world's purchases from the training set's. Returns the rows."""
    from shared.features.definitions import MODEL_FEATURES

    path.parent.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(database_url, autocommit=True) as conn, path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["transaction_id", "scenario", "decision", "fraud_score", "degraded", *MODEL_FEATURES]
        )
        rows = conn.execute(SERVED_SQL).fetchall()
        for txn, scenario, decision, score, degraded, features in rows:
            values = (features if isinstance(features, dict) else json.loads(features or "{}")) or {}
            writer.writerow(
                [txn, scenario, decision, score, degraded, *(values.get(n) for n in MODEL_FEATURES)]
            )
    return len(rows)

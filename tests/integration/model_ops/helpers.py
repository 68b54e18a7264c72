"""Stored decisions, shadow scores and labels for the model-ops tests, written as the scoring path and
the ingest room write them."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg


def predict(
    db: psycopg.Connection,
    txn: str,
    decision: str,
    *,
    at: datetime,
    version: str = "vA",
    reason: str = "model",
) -> None:
    db.execute(
        """INSERT INTO intel.fraud_predictions (transaction_id, wallet_address, ticket_id, price_paid, fraud_score,
               decision, reason, features, top_features, model_version, created_at)
           VALUES (%s, '0x' || repeat('0', 40), '1', 1, 0.5, %s, %s, '{}', '{}', %s, %s)""",
        (txn, decision, reason, version, at),
    )


def shadow(db: psycopg.Connection, txn: str, decision: str, *, at: datetime, version: str = "vB") -> None:
    db.execute(
        """INSERT INTO intel.model_shadow_scores
               (transaction_id, model_version, served_version, fraud_score, decision, created_at)
           VALUES (%s, %s, 'vA', 0.5, %s, %s)""",
        (txn, version, decision, at),
    )


def label(db: psycopg.Connection, txn: str, is_fraud: bool, *, at: datetime) -> None:
    db.execute(
        "INSERT INTO intel.fraud_labels (transaction_id, is_fraud, source, labelled_at) VALUES (%s, %s, 'review', %s)",
        (txn, is_fraud, at),
    )


def hours(n: float) -> timedelta:
    return timedelta(hours=n)

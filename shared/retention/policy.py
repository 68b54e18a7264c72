"""Spec 2.1 as data: which table holds which data type, how long it stays hot in PostgreSQL, where
its archive lives and for how long, and the archive's schema (the Glue tables in infra/retention.py
are generated from it, so what Athena reads is what the archiver writes).

No imports beyond the standard library: infra/ reads this module at synth time.

Personal columns are written to the archive encrypted with the subject's own key (crypto-shredding,
shared/retention/shred.py): erasing a user deletes the key, and every archived copy of those fields,
Object Lock included, becomes unreadable without rewriting an object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Bucket = Literal["archive", "audit"]

# Hive types of the archive columns. An encrypted (personal) column is always `string`.
Column = tuple[str, str]


@dataclass(frozen=True)
class DataType:
    """A row of spec 2.1."""

    name: str
    hot_days: int
    archive_days: int  # 0: deleted after its hot age, never archived
    bucket: Bucket
    prefix: str  # the archive prefix (the bucket's lifecycle rule names it)

    @property
    def archived(self) -> bool:
        return self.archive_days > 0


TRANSACTION_LOGS = DataType("transaction logs", 90, 2 * 365 - 90, "archive", "transaction-logs/")
ML_PREDICTIONS = DataType("ML predictions", 180, 5 * 365 - 180, "archive", "ml-predictions/")
AUDIT_LOGS = DataType("audit logs", 365, 7 * 365 - 365, "audit", "audit-logs/")
USER_SESSIONS = DataType("user sessions", 30, 0, "archive", "")
DATA_TYPES = (TRANSACTION_LOGS, ML_PREDICTIONS, AUDIT_LOGS, USER_SESSIONS)


@dataclass(frozen=True)
class TablePolicy:
    """One PostgreSQL table under a data type: rows whose `time_column` is older than the hot age
    leave it, batch by batch in `key_column` order within one UTC day."""

    table: str  # schema.table
    data_type: DataType
    key_column: str
    key_type: Literal["bigint", "text"]
    time_column: str
    columns: tuple[Column, ...]  # the archive's columns, in the order written
    personal: tuple[str, ...] = ()  # encrypted with the subject's key in the archive
    # SQL giving the row's subject (whose key encrypts its personal fields), over alias `r`.
    subject_sql: str = "NULL"

    @property
    def glue_name(self) -> str:
        return self.table.replace(".", "_")

    @property
    def location(self) -> str:
        """The prefix of the table's data objects (the Glue table's location)."""
        return f"{self.data_type.prefix}{self.glue_name}/"

    @property
    def manifest_prefix(self) -> str:
        """Manifests live outside the table's location: Athena would read them as rows."""
        return f"{self.data_type.prefix}_manifests/{self.glue_name}/"

    def hive_columns(self) -> tuple[Column, ...]:
        return tuple((name, "string" if name in self.personal else kind) for name, kind in self.columns)


_MONEY = "decimal(12,2)"
_USER_SUBJECT = "'user:' || r.{0}"

POLICIES: tuple[TablePolicy, ...] = (
    TablePolicy(
        "marketplace.orders",
        TRANSACTION_LOGS,
        "order_id",
        "bigint",
        "created_at",
        (
            ("order_id", "bigint"),
            ("transaction_id", "string"),
            ("ticket_id", "bigint"),
            ("event_id", "bigint"),
            ("buyer_user_id", "bigint"),
            ("buyer_wallet", "string"),
            ("seller_wallet", "string"),
            ("kind", "string"),
            ("price", _MONEY),
            ("fee", _MONEY),
            ("currency", "string"),
            ("payment_type", "string"),
            ("payment_instrument", "string"),
            ("client_ip", "string"),
            ("status", "string"),
            ("chain_tx_hash", "string"),
            ("created_at", "timestamp"),
            ("updated_at", "timestamp"),
            ("source_occurred_at", "timestamp"),
            ("source_occurred_ns", "bigint"),
        ),
        personal=("payment_instrument", "client_ip"),
        subject_sql=_USER_SUBJECT.format("buyer_user_id"),
    ),
    TablePolicy(
        "intel.transactions",
        TRANSACTION_LOGS,
        "order_id",
        "bigint",
        "occurred_at",
        (
            ("transaction_id", "string"),
            ("order_id", "bigint"),
            ("ticket_id", "bigint"),
            ("event_id", "bigint"),
            ("user_id", "bigint"),
            ("wallet_address", "string"),
            ("seller_wallet", "string"),
            ("kind", "string"),
            ("price_paid", _MONEY),
            ("fee", _MONEY),
            ("payment_instrument", "string"),
            ("client_ip", "string"),
            ("geo_country", "string"),
            ("geo_lat", "double"),
            ("geo_lon", "double"),
            ("status", "string"),
            ("occurred_at", "timestamp"),
            ("updated_at", "timestamp"),
        ),
        personal=("payment_instrument", "client_ip", "geo_lat", "geo_lon"),
        subject_sql=_USER_SUBJECT.format("user_id"),
    ),
    TablePolicy(
        "ingest.events",
        TRANSACTION_LOGS,
        "event_id",
        "text",
        "occurred_at",
        (
            ("event_id", "string"),
            ("type", "string"),
            ("occurred_at", "timestamp"),
            ("data", "string"),
            ("stored_at", "timestamp"),
            ("occurred_ns", "bigint"),
        ),
        personal=("data",),
        subject_sql="'user:' || coalesce(r.data->>'user_id', r.data->>'buyer_user_id')",
    ),
    TablePolicy(
        "intel.fraud_predictions",
        ML_PREDICTIONS,
        "prediction_id",
        "bigint",
        "created_at",
        (
            ("prediction_id", "bigint"),
            ("transaction_id", "string"),
            ("wallet_address", "string"),
            ("ticket_id", "string"),
            ("price_paid", _MONEY),
            ("fraud_score", "double"),
            ("decision", "string"),
            ("confidence", "double"),
            ("reason", "string"),
            ("features", "string"),
            ("top_features", "string"),
            ("model_version", "string"),
            ("degraded", "boolean"),
            ("client_ip_hash", "string"),
            ("latency_ms", "double"),
            ("created_at", "timestamp"),
            ("model_score", "double"),  # the model's own score, before the cold-start guard
        ),
        personal=("client_ip_hash",),
        subject_sql=(
            "coalesce('user:' || (SELECT w.user_id FROM marketplace.wallets w"
            " WHERE w.address = r.wallet_address), 'wallet:' || r.wallet_address)"
        ),
    ),
    TablePolicy(
        "intel.audit_log",
        AUDIT_LOGS,
        "audit_id",
        "bigint",
        "at",
        (
            ("audit_id", "bigint"),
            ("actor", "string"),
            ("action", "string"),
            ("target", "string"),
            ("details", "string"),
            ("at", "timestamp"),
            # migration 0540: who acted in which role, from where, and the hash chain
            ("role", "string"),
            ("source_ip", "string"),
            ("request_id", "string"),
            ("before", "string"),
            ("after", "string"),
            ("chain_seq", "bigint"),
            ("prev_hash", "string"),
            ("row_hash", "string"),
        ),
    ),
    TablePolicy(
        "marketplace.login_attempts",
        AUDIT_LOGS,
        "attempt_id",
        "bigint",
        "attempted_at",
        (
            ("attempt_id", "bigint"),
            ("user_id", "bigint"),
            ("email", "string"),
            ("ip", "string"),
            ("success", "boolean"),
            ("failure_reason", "string"),
            ("is_admin", "boolean"),
            ("attempted_at", "timestamp"),
            ("updated_at", "timestamp"),
            ("source_occurred_at", "timestamp"),
            ("source_occurred_ns", "bigint"),
        ),
        personal=("email", "ip"),
        subject_sql=_USER_SUBJECT.format("user_id"),
    ),
    TablePolicy(
        "intel.login_attempts",
        AUDIT_LOGS,
        "attempt_id",
        "bigint",
        "attempted_at",
        (
            ("attempt_id", "bigint"),
            ("user_id", "bigint"),
            ("email_hash", "string"),
            ("ip", "string"),
            ("geo_country", "string"),
            ("success", "boolean"),
            ("failure_reason", "string"),
            ("is_admin", "boolean"),
            ("attempted_at", "timestamp"),
            ("updated_at", "timestamp"),
        ),
        personal=("email_hash", "ip"),
        subject_sql=_USER_SUBJECT.format("user_id"),
    ),
    TablePolicy("marketplace.sessions", USER_SESSIONS, "session_id", "bigint", "started_at", ()),
    TablePolicy("intel.sessions", USER_SESSIONS, "session_id", "bigint", "started_at", ()),
)

ARCHIVED = tuple(p for p in POLICIES if p.data_type.archived)


def policy(table: str) -> TablePolicy:
    for item in POLICIES:
        if item.table == table:
            return item
    raise KeyError(table)

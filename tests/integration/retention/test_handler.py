"""The retention Lambda handler on its scheduled event (the local timers' event, as EventBridge sends
it), against PostgreSQL and the moto buckets; and the archive's columns against the live schema
(the Glue tables are generated from the same policy, so Athena reads what PostgreSQL held)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from functions.retention.handler import handler
from shared.local.gateway import LocalLambdaContext
from shared.local.schedules import JOBS, scheduled_event
from shared.retention.policy import POLICIES
from shared.retention.store import Stores
from tests.integration.retention.conftest import ARCHIVE, AS_OF, AUDIT, seed


def test_given_the_sunday_event_when_the_handler_runs_then_old_rows_are_archived_and_it_reports(
    db: psycopg.Connection,
    stores: Stores,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(db)
    monkeypatch.setenv("TG_ARCHIVE_BUCKET", ARCHIVE)
    monkeypatch.setenv("TG_AUDIT_ARCHIVE_BUCKET", AUDIT)
    [job] = [j for j in JOBS if j.function == "retention"]
    summary = handler(scheduled_event(job, AS_OF), LocalLambdaContext("retention", "req-1", timeout_s=900))
    assert summary["complete"] and not summary["continued"] and summary["as_of"] == AS_OF.isoformat()
    assert summary["rows_archived"] > 0 and summary["rows_deleted"] > summary["rows_archived"]  # + sessions
    assert list(stores.archive.keys("transaction-logs/marketplace_orders/"))
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emitted: dict[str, Any] = {k: v for m in metrics for k, v in m.items() if k.startswith("Retention")}
    assert emitted["RetentionIncomplete"] in (0.0, [0.0])
    assert emitted["RetentionRowsArchived"] in (summary["rows_archived"], [summary["rows_archived"]])


def test_given_the_migrated_schema_then_each_policy_lists_exactly_its_tables_columns(
    db: psycopg.Connection,
) -> None:
    for policy in POLICIES:
        if not policy.columns:
            continue
        schema, table = policy.table.split(".")
        live = [
            row[0]
            for row in db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                "ORDER BY ordinal_position",
                (schema, table),
            )
        ]
        assert sorted(name for name, _ in policy.columns) == sorted(live), policy.table

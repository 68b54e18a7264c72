"""The migrations runner: ordered, recorded, safe to run twice, and the constraints keep bad rows out."""

from __future__ import annotations

import psycopg
import pytest

from shared.db import apply_migrations
from shared.db.migrations import discover
from shared.errors import ConfigurationError


def test_given_migrated_database_when_runner_runs_again_then_nothing_is_applied(
    db: psycopg.Connection,
) -> None:
    # Given a database the fixture migrated
    recorded = [row[0] for row in db.execute("SELECT version FROM intel.schema_migrations ORDER BY version")]
    # When the runner runs a second time
    applied = apply_migrations(db)
    # Then it applies nothing, and every file is recorded once
    assert applied == []
    assert recorded == [m.version for m in discover()]


def test_given_applied_migration_when_its_file_changes_then_runner_refuses(
    db: psycopg.Connection, tmp_path
) -> None:
    # Given the project's migrations, the first one edited after it was applied
    for migration in discover():
        (tmp_path / f"{migration.version}_{migration.name}.sql").write_text(migration.sql)
    first = sorted(tmp_path.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    # When the runner runs, Then it stops with an error naming the file
    with pytest.raises(ConfigurationError, match="was changed after it was applied"):
        apply_migrations(db, tmp_path)


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        (
            "INSERT INTO marketplace.events VALUES (1,'e','v','c','GB','concert',100,-5,now(),now()+interval '1 day',now())",
            "events_face_value_check",
        ),
        (
            "INSERT INTO marketplace.events VALUES (1,'e','v','c','GB','circus',100,5,now(),now()+interval '1 day',now())",
            "events_category_check",
        ),
        ("INSERT INTO marketplace.wallets VALUES ('0xABC', 1, now())", "wallets_address_check"),
        ("INSERT INTO marketplace.tickets VALUES (1, 999, 'A1', 10, NULL, now())", "tickets_event_id_fkey"),
    ],
)
def test_given_bad_row_when_inserted_then_constraint_rejects_it(
    db: psycopg.Connection, statement: str, constraint: str
) -> None:
    # Given a fresh database, When a row that breaks a rule is inserted, Then PostgreSQL refuses it by name
    with pytest.raises(psycopg.errors.IntegrityError, match=constraint):
        db.execute(statement)

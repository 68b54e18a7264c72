"""Ordered SQL migrations, applied once each, recorded with a checksum.

The same runner serves the local stack, the tests and the CDK custom resource. Files are named
`NNNN_description.sql` and applied in name order, each in its own transaction, under an advisory
lock so that two deploys cannot race.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

from shared.errors import ConfigurationError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x71C6E7  # any constant shared by every runner of this project


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        version, _, name = path.stem.partition("_")
        if not version.isdigit():
            raise ConfigurationError(f"migration file {path.name} must start with a number")
        migrations.append(Migration(version=version, name=name, sql=path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ConfigurationError(f"two migration files share a version number: {sorted(versions)}")
    return migrations


def apply_migrations(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations not yet applied; return their versions. Safe to run any number of times."""
    applied_now: list[str] = []
    previous_autocommit = conn.autocommit
    conn.autocommit = True
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute("CREATE SCHEMA IF NOT EXISTS intel")
            conn.execute(
                """CREATE TABLE IF NOT EXISTS intel.schema_migrations (
                       version text PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done: dict[str, str] = dict(
                conn.execute("SELECT version, checksum FROM intel.schema_migrations").fetchall()
            )
            for migration in discover(directory):
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise ConfigurationError(
                            f"migration {migration.version}_{migration.name} was changed after it was applied; "
                            "add a new migration instead"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO intel.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    finally:
        conn.autocommit = previous_autocommit
    return applied_now

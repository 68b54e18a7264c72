"""The ingest room's integration fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.db.connection import reset_pool


@pytest.fixture
def fresh_pool(database_url: str) -> Iterator[None]:
    """The pool reads DATABASE_URL: rebuilt for this test's database, and dropped after it."""
    reset_pool()
    yield
    reset_pool()

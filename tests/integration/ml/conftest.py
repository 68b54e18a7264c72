"""Fixtures of the model registry tests in this directory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.ml.s3_registry import archive_bucket


@pytest.fixture
def s3() -> Iterator[Any]:
    """moto's S3 with the archive bucket (tests.integration.ml.s3_registry)."""
    with archive_bucket() as client:
        yield client

"""The archive bucket in moto's S3 and the model registry under it, as the registry tests use them
(tests/integration/ml and tests/integration/model_ops): one bucket, `models/` its registry prefix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from shared.model import ARTIFACTS_ROOT
from shared.model.remote import Registry
from training import registry as local_registry

BUCKET = "archive"
REGISTRY = Registry(BUCKET, "models/")
SHIPPED = local_registry.current_version_dir(ARTIFACTS_ROOT)


@contextmanager
def archive_bucket() -> Iterator[Any]:
    """moto's S3 with the archive bucket; every boto3 client made meanwhile talks to it."""
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client

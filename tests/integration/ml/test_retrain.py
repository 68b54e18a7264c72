"""Given a real (empty) database, when the retrain function runs, then it fails clearly rather than
training on nothing; a trained version is uploaded with CURRENT written last, only when promoted."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from shared.ml.retrain import upload_version
from tests.fixtures.ml import LambdaContext


def test_even_week_on_an_empty_database_fails_with_the_window(database_url: str) -> None:
    from functions.retrain.handler import handler

    response = handler({"cadence": "biweekly", "time": "2026-11-29T02:00:00Z"}, LambdaContext())
    assert response["status"] == "failed"
    assert "no transactions between 2026-09-18 and 2026-10-30" in response["reason"]


@pytest.mark.slow
def test_upload_writes_the_version_then_current_only_if_promoted(trained_registry: Path) -> None:
    version = trained_registry / "vtest.1"
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="archive", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        keys = upload_version(version, "archive", promoted=False, s3_client=s3)
        assert "models/vtest.1/manifest.json" in keys and "models/CURRENT" not in keys
        keys = upload_version(version, "archive", promoted=True, s3_client=s3)
        assert keys[-1] == "models/CURRENT"
        body = s3.get_object(Bucket="archive", Key="models/CURRENT")["Body"].read()
        assert body == b"vtest.1\n"

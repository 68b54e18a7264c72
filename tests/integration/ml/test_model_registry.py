"""The functions' side of the model registry in S3 (shared/model/remote.py) and the publish step's
checks, against moto: a corrupt or foreign download is never loaded (the shipped model is served
instead at cold start, the served one is kept when warm), CURRENT moves only for a version that
verifies, and a pointer that moved while a candidate trained is not overwritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shared.errors import ModelIntegrityError
from shared.jobs.retrain import publish_step
from shared.model.manifest import read_manifest
from shared.model.remote import POINTER, Registry, ServedModel, read_pointer, write_pointer
from tests.integration.ml.s3_registry import BUCKET, REGISTRY, SHIPPED
from training import registry as local_registry
from training.retrain import upload_version


@pytest.fixture
def versions(trained_registry: Path, tmp_path: Path) -> dict[str, Path]:
    """vtest.1 (the session's model) and vtest.2, the same model under another version name."""
    second = tmp_path / "vtest.2"
    shutil.copytree(trained_registry / "vtest.1", second)
    (second / "manifest.json").unlink()
    raw = read_manifest(trained_registry / "vtest.1").raw
    local_registry.write_manifest(
        second, {**{k: v for k, v in raw.items() if k not in {"schema", "files"}}, "version": "vtest.2"}
    )
    return {"vtest.1": trained_registry / "vtest.1", "vtest.2": second}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _served(s3: Any, tmp_path: Path, clock: Clock) -> ServedModel:
    return ServedModel(
        REGISTRY, fallback=SHIPPED, cache_dir=tmp_path / "cache", ttl_s=60, client=lambda: s3, clock=clock
    )


def _upload_tampered(s3: Any, source: Path, version: str = "vbad") -> None:
    """A version whose library in S3 is not the one its manifest hashes."""
    upload_version(source, REGISTRY, s3)  # uploaded under source's folder name
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"models/{source.name}/")["Contents"]:
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        if item["Key"].endswith(".so"):
            body = body[:-16] + b"\x00" * 16
        if item["Key"].endswith("manifest.json"):
            body = body.replace(source.name.encode(), version.encode())
        s3.put_object(Bucket=BUCKET, Key=item["Key"].replace(f"/{source.name}/", f"/{version}/"), Body=body)


def test_given_a_corrupt_library_in_the_registry_when_a_container_starts_then_it_serves_the_shipped_model(
    s3, versions, tmp_path
):
    # Given CURRENT naming a version whose library was altered after its manifest was written
    _upload_tampered(s3, versions["vtest.1"])
    write_pointer(REGISTRY, "vbad", s3)
    # When a container starts
    served = _served(s3, tmp_path, Clock())
    directory = served.directory()
    # Then it serves the model shipped in its layer, says why, and keeps no half download
    assert directory == SHIPPED and served.version is None
    assert "does not match its manifest SHA-256" in (served.last_error or "")
    assert not (tmp_path / "cache" / "vbad").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []


def test_given_a_manifest_of_another_version_when_fetched_then_it_is_refused(s3, versions, tmp_path):
    # Given models/vother/ holding vtest.1's files, manifest included (version "vtest.1")
    upload_version(versions["vtest.1"], Registry(BUCKET, "staging/"), s3)
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="staging/vtest.1/")["Contents"]:
        s3.copy_object(
            Bucket=BUCKET,
            Key=item["Key"].replace("staging/vtest.1/", "models/vother/"),
            CopySource={"Bucket": BUCKET, "Key": item["Key"]},
        )
    write_pointer(REGISTRY, "vother", s3)
    served = _served(s3, tmp_path, Clock())
    assert served.directory() == SHIPPED
    assert "is the manifest of model 'vtest.1'" in (served.last_error or "")


def test_given_a_warm_container_then_it_follows_current_every_ttl_keeps_its_model_on_a_bad_switch_and_falls_back_when_current_goes(
    s3, versions, tmp_path
):
    for source in versions.values():
        upload_version(source, REGISTRY, s3)
    _upload_tampered(s3, versions["vtest.1"])
    write_pointer(REGISTRY, "vtest.1", s3)
    clock = Clock()
    served = _served(s3, tmp_path, clock)
    # Given a container serving vtest.1 from the registry
    assert served.directory() == tmp_path / "cache" / "vtest.1" and served.version == "vtest.1"
    # When CURRENT moves to a corrupt version, Then within the TTL nothing is re-read
    write_pointer(REGISTRY, "vbad", s3)
    assert served.directory() == tmp_path / "cache" / "vtest.1"
    # And after the TTL the background check refuses it and vtest.1 stays served
    clock.now += 61
    served.directory()
    served.wait()
    assert served.version == "vtest.1" and "SHA-256" in (served.last_error or "")
    # When CURRENT moves to a good version (a rollback or a new promotion), Then the next check switches
    write_pointer(REGISTRY, "vtest.2", s3)
    clock.now += 61
    served.directory()
    served.wait()
    assert served.directory() == tmp_path / "cache" / "vtest.2" and served.last_error is None
    # When CURRENT is deleted, Then the container goes back to the shipped model
    s3.delete_object(Bucket=BUCKET, Key=REGISTRY.key(POINTER))
    clock.now += 61
    served.directory()
    served.wait()
    assert served.directory() == SHIPPED and served.version is None


def test_given_an_unchanged_current_then_the_check_is_a_conditional_get(s3):
    write_pointer(REGISTRY, "vtest.1", s3)
    first = read_pointer(REGISTRY, s3)
    assert first is not None and first.version == "vtest.1"
    assert read_pointer(REGISTRY, s3, unless_etag=first.etag) is None
    write_pointer(REGISTRY, "vtest.2", s3)
    moved = read_pointer(REGISTRY, s3, unless_etag=first.etag)
    assert moved is not None and moved.version == "vtest.2"


class DeniedS3:
    """S3 as a role without ListBucket on the whole bucket answers a GET of a missing key: 403."""

    def __init__(self, listed: list[str]) -> None:
        self.listed = listed

    def get_object(self, **_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "GetObject"
        )

    def list_objects_v2(self, **_: Any) -> dict[str, Any]:
        return {"Contents": [{"Key": key} for key in self.listed]}


def test_given_a_403_on_current_then_listing_that_one_key_tells_absent_from_refused():
    assert read_pointer(REGISTRY, DeniedS3(listed=[])) is not None
    assert read_pointer(REGISTRY, DeniedS3(listed=[])).version is None  # type: ignore[union-attr]
    with pytest.raises(ClientError):
        read_pointer(REGISTRY, DeniedS3(listed=["models/CURRENT"]))


# ----------------------------------------------------------------------------------- publish checks
def _outcome(s3: Any, version: str, baseline: dict[str, Any], promote: bool = True) -> dict[str, str]:
    body = {
        "version": version,
        "registry": REGISTRY.uri,
        "promote": promote,
        "reasons": ["not worse than the current model"],
        "baseline": baseline,
        "test": {"auc_pr": 0.5},
    }
    s3.put_object(Bucket=BUCKET, Key="retrain-runs/r1/outcome.json", Body=json.dumps(body).encode())
    return {"run_id": "r1", "outcome": f"s3://{BUCKET}/retrain-runs/r1/outcome.json"}


def test_given_a_promoted_candidate_that_does_not_verify_when_published_then_current_does_not_move(
    s3, versions, tmp_path
):
    _upload_tampered(s3, versions["vtest.1"])
    write_pointer(REGISTRY, "vtest.1", s3)
    event = _outcome(s3, "vbad", {"source": "registry", "version": "vtest.1"})
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        publish_step(event, registry=REGISTRY, s3=s3, cache_dir=tmp_path)
    assert read_pointer(REGISTRY, s3).version == "vtest.1"  # type: ignore[union-attr]


def test_given_current_moved_while_the_candidate_trained_when_published_then_it_is_not_overwritten(
    s3, versions, tmp_path
):
    for source in versions.values():
        upload_version(source, REGISTRY, s3)
    # Given a candidate gated against vtest.1, while someone rolled CURRENT to vtest.2 meanwhile
    write_pointer(REGISTRY, "vtest.2", s3)
    event = _outcome(s3, "vtest.1", {"source": "registry", "version": "vtest.1"})
    result = publish_step(event, registry=REGISTRY, s3=s3, cache_dir=tmp_path)
    assert result["status"] == "refused" and "the served model changed" in result["reasons"][0]
    assert read_pointer(REGISTRY, s3).version == "vtest.2"  # type: ignore[union-attr]
    # And a candidate gated against the shipped model is not published over a CURRENT either
    event = _outcome(s3, "vtest.1", {"source": "shipped", "version": "v20261125.200850"})
    assert publish_step(event, registry=REGISTRY, s3=s3, cache_dir=tmp_path)["status"] == "refused"

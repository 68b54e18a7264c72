"""Where archived objects go: one interface, two places. In AWS two S3 buckets (the archive bucket,
and the audit archive under Object Lock in compliance mode); on a laptop (`make run`, the CLI) a
directory holding the same keys. The archiver, its verification and GDPR export call only this
interface, so the code path that writes and reads an archive is the same in both places.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import Field, SecretStr

from shared.config import EnvSettings
from shared.errors import ConfigurationError
from shared.retention.policy import Bucket

DEFAULT_LOCAL_ROOT = Path.home() / ".ticketguard" / "archive"  # outside any checkout


class RetentionSettings(EnvSettings):
    """TG_ARCHIVE_BUCKET / TG_AUDIT_ARCHIVE_BUCKET in AWS (the function's environment); locally
    TG_ARCHIVE_ROOT (default ~/.ticketguard/archive)."""

    env_prefix: ClassVar[str] = "TG_"

    archive_bucket: str | None = None
    audit_archive_bucket: str | None = None
    # Days an audit object stays locked from its upload (compliance mode). Absent: the bucket's
    # default retention applies (infra/retention.py sets it); given: the writer sets it per object.
    audit_lock_days: int | None = Field(None, ge=1)
    archive_root: Path | None = None
    # The master key of the archive's subject keys (shared/retention/keyring.py): in AWS the KMS key
    # (TG_ARCHIVE_KMS_KEY_ID, its ARN); locally TG_ARCHIVE_MASTER_KEY (base64 of 64 bytes) or the file
    # TG_ARCHIVE_MASTER_KEY_FILE (default ~/.ticketguard/archive-master.key, created once).
    archive_kms_key_id: str | None = None
    archive_master_key: SecretStr | None = None
    archive_master_key_file: Path | None = None
    retention_batch_rows: int = Field(5_000, ge=1, le=200_000)
    # Each invocation stops planning new batches this long before its deadline.
    retention_margin_s: float = Field(60.0, ge=0)
    # Rounds of one run (each an invocation of up to 15 minutes; shared/jobs/rounds.py): past them the run
    # stops incomplete (RetentionIncomplete, its alarm) and the next week's run resumes from the ledger.
    retention_max_rounds: int = Field(96, ge=1, le=1000)


class ObjectStore(Protocol):
    name: str

    def put(self, key: str, body: bytes, *, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def keys(self, prefix: str) -> Iterator[str]: ...


class S3Store:
    """One bucket. With `lock_days`, each object is written under Object Lock in compliance mode
    until that many days after the upload (the bucket must have Object Lock enabled)."""

    def __init__(self, bucket: str, *, client: Any = None, lock_days: int | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.name = f"s3://{bucket}"
        self.bucket = bucket
        self.client = client
        self.lock_days = lock_days

    def put(self, key: str, body: bytes, *, content_type: str) -> None:
        extra: dict[str, Any] = {}
        if self.lock_days:
            extra = {
                "ObjectLockMode": "COMPLIANCE",
                "ObjectLockRetainUntilDate": datetime.now(UTC) + timedelta(days=self.lock_days),
            }
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",  # Object Lock requires an integrity checksum on PUT
            **extra,
        )

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]


class LocalStore:
    """A directory standing in for a bucket: the same keys as relative paths, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = str(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"archive key {key!r} leaves the archive root")
        return path

    def put(self, key: str, body: bytes, *, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(body)
        partial.replace(path)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def keys(self, prefix: str) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and not path.name.startswith(".") and key.startswith(prefix):
                yield key


class Stores:
    """The two buckets of spec 2.1's archive tier."""

    def __init__(self, archive: ObjectStore, audit: ObjectStore) -> None:
        self.archive = archive
        self.audit = audit

    def of(self, bucket: Bucket) -> ObjectStore:
        return self.audit if bucket == "audit" else self.archive


def stores_from_settings(settings: RetentionSettings | None = None, *, client: Any = None) -> Stores:
    settings = settings or RetentionSettings()
    if settings.archive_bucket or settings.audit_archive_bucket:
        if not (settings.archive_bucket and settings.audit_archive_bucket):
            raise ConfigurationError("set both TG_ARCHIVE_BUCKET and TG_AUDIT_ARCHIVE_BUCKET, or neither")
        return Stores(
            S3Store(settings.archive_bucket, client=client),
            S3Store(settings.audit_archive_bucket, client=client, lock_days=settings.audit_lock_days),
        )
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        raise ConfigurationError("TG_ARCHIVE_BUCKET is not set: a deployed function never archives locally")
    root = settings.archive_root or DEFAULT_LOCAL_ROOT
    return Stores(LocalStore(root / "archive"), LocalStore(root / "audit"))

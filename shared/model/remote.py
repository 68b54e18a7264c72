"""The model registry in S3, as the functions read it (boto3 and the standard library only).

Layout, under `s3://<archive bucket>/models/`: one folder per version (`<version>/manifest.json`, the
compiled libraries, the report), and `CURRENT`, one line naming the served version. The retraining
pipeline uploads a version; its publish step rewrites CURRENT only after fetching, verifying and
loading that version exactly as the functions will. Rolling back is rewriting CURRENT (one `PUT`);
deleting it sends every function back to the model shipped in its layer.

`ServedModel` is the functions' side. At cold start it reads CURRENT, downloads that version's
manifest and the library for this architecture into a local cache (/tmp on Lambda), checks the
manifest names that version and the library matches the manifest's SHA-256, and loads it; if anything
fails it serves the fallback (the model layer, TG_MODEL_DIR). A warm container re-reads CURRENT at most
every `ttl_s` seconds, in a background thread (a conditional GET: requests never wait on S3), and
switches when CURRENT names another version that fetches and loads; a failed switch keeps the model
it serves and is retried at the next check. The same check reads `ROLLOUT.json` (shared.model.rollout:
a candidate in shadow or canary) and fetches the candidate the same way; a candidate that does not
fetch or load is not served, and the served model is unaffected.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shared.errors import ConfigurationError, ModelIntegrityError
from shared.model.compiled import CompiledModel
from shared.model.layout import POINTER, ROLLOUT
from shared.model.manifest import MANIFEST_NAME, current_architecture, read_manifest, verify_files
from shared.observability import logger

if TYPE_CHECKING:
    from shared.config import Settings

DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "tg-models"
MAX_VERSION_LENGTH = 128


@dataclass(frozen=True)
class Registry:
    """Where the versions live: `s3://bucket/prefix/`."""

    bucket: str
    prefix: str  # "" or ends with "/"

    @classmethod
    def parse(cls, uri: str) -> Registry:
        parts = urlsplit(uri)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigurationError(f"a model registry is s3://bucket/prefix/, got {uri!r}")
        prefix = parts.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(parts.netloc, prefix)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, *parts: str) -> str:
        return self.prefix + "/".join(parts)


def s3_client(timeout_s: float = 5.0) -> Any:
    """An S3 client with short timeouts and one retry (a pointer check must not hang a container)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        config=Config(
            connect_timeout=timeout_s, read_timeout=timeout_s, retries={"max_attempts": 2, "mode": "standard"}
        ),
    )


def check_version_name(name: str) -> str:
    """A version is one folder name: no separators, no dot names, nothing around it."""
    if (
        not name
        or len(name) > MAX_VERSION_LENGTH
        or name != name.strip()
        or any(c in name for c in "/\\\n\r\t ")
        or name in {".", ".."}
    ):
        raise ModelIntegrityError(f"a model version is one folder name, got {name!r}")
    return name


def _error_code(exc: Exception) -> tuple[str | None, int | None]:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code"), response.get("ResponseMetadata", {}).get("HTTPStatusCode")


@dataclass(frozen=True)
class Pointer:
    version: str | None  # None: there is no CURRENT (serve the shipped model)
    etag: str | None


def _conditional_get(
    registry: Registry, name: str, s3: Any, unless_etag: str | None
) -> tuple[Any, str | None, Exception | None]:
    """GET of the registry's object `name`: (response, None, None), or (None, why, the error) with why
    "not_modified" (it still has the ETag `unless_etag`), "missing" (404) or "denied" (403); any other
    error raises."""
    from botocore.exceptions import ClientError

    request: dict[str, Any] = {"Bucket": registry.bucket, "Key": registry.key(name)}
    if unless_etag:
        request["IfNoneMatch"] = unless_etag
    try:
        return s3.get_object(**request), None, None
    except ClientError as exc:
        code, status = _error_code(exc)
        if status == 304 or code in {"304", "NotModified"}:
            return None, "not_modified", exc
        if code in {"NoSuchKey", "404", "NotFound"}:
            return None, "missing", exc
        if code in {"AccessDenied", "403"}:
            return None, "denied", exc
        raise


def read_pointer(registry: Registry, s3: Any, *, unless_etag: str | None = None) -> Pointer | None:
    """CURRENT as it is now; None when it still has the ETag `unless_etag` (a conditional GET)."""
    response, why, error = _conditional_get(registry, POINTER, s3, unless_etag)
    if why == "not_modified":
        return None
    if why == "missing":
        return Pointer(None, None)
    if why == "denied":
        # S3 answers 403 for a missing key unless the GET may also list it: the functions may list
        # this one key (infra/model_access.py), which tells "no CURRENT" from a real refusal.
        if not _pointer_listed(registry, s3):
            return Pointer(None, None)
        assert error is not None
        raise error
    text = response["Body"].read(MAX_VERSION_LENGTH + 2).decode("utf-8", errors="replace").strip()
    return Pointer(check_version_name(text), response.get("ETag"))


def _pointer_listed(registry: Registry, s3: Any) -> bool:
    key = registry.key(POINTER)
    listing = s3.list_objects_v2(Bucket=registry.bucket, Prefix=key, MaxKeys=1)
    return any(item.get("Key") == key for item in listing.get("Contents", []))


def read_rollout(
    registry: Registry, s3: Any, *, unless_etag: str | None = None
) -> tuple[dict[str, Any], str | None] | None:
    """ROLLOUT.json ({} when there is none) and its ETag; None when it still has `unless_etag`."""
    import json

    response, why, _ = _conditional_get(registry, ROLLOUT, s3, unless_etag)
    if why == "not_modified":
        return None
    if why is not None:
        return {}, None  # none (readers may not list the bucket for it: S3 answers 403 for a missing key)
    document = json.loads(response["Body"].read())
    if not isinstance(document, dict):
        raise ModelIntegrityError(f"{registry.uri}{ROLLOUT} is not a JSON object")
    return document, response.get("ETag")


def write_pointer(registry: Registry, version: str, s3: Any) -> None:
    s3.put_object(
        Bucket=registry.bucket,
        Key=registry.key(POINTER),
        Body=(check_version_name(version) + "\n").encode(),
        ContentType="text/plain",
    )


def load_verified(
    directory: Path, version: str | None = None, architecture: str | None = None
) -> CompiledModel:
    """The model of `directory` for this architecture, after the manifest check (its version is
    `version` when given) and the SHA-256 of the library; the library is loaded (ctypes)."""
    manifest = read_manifest(directory)
    if version is not None and manifest.version != version:
        raise ModelIntegrityError(
            f"{directory}: the manifest is of model {manifest.version!r}, the registry names {version!r}"
        )
    architecture = architecture or current_architecture()
    library = manifest.libraries.get(architecture)
    if library is None:
        raise ConfigurationError(
            f"model {manifest.version} has no library for {architecture} (has: {sorted(manifest.libraries)})"
        )
    verify_files(manifest, required=(library,))
    return CompiledModel(manifest, manifest.library_path(architecture))


def probe(model: CompiledModel) -> float:
    """One prediction on an all-missing row: the library answers, with a probability."""
    score = model.predict([None] * model.n_features)
    if not (math.isfinite(score) and 0.0 <= score <= 1.0):
        raise ModelIntegrityError(f"model {model.version} answers {score!r} to an all-missing row")
    return score


def fetch_version(
    registry: Registry, version: str, cache_dir: Path, s3: Any, *, architecture: str | None = None
) -> Path:
    """`version`'s manifest and its library for `architecture` in `cache_dir/<version>/`, downloaded
    once, verified each time (a cached copy that no longer verifies is fetched again)."""
    check_version_name(version)
    architecture = architecture or current_architecture()
    final = cache_dir / version
    if final.is_dir():
        try:
            load_verified(final, version, architecture)
            return final
        except (ConfigurationError, ModelIntegrityError):
            shutil.rmtree(final, ignore_errors=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=cache_dir))
    try:
        s3.download_file(registry.bucket, registry.key(version, MANIFEST_NAME), str(staging / MANIFEST_NAME))
        manifest = read_manifest(staging)
        if manifest.version != version:
            raise ModelIntegrityError(
                f"{registry.uri}{version}/{MANIFEST_NAME} is the manifest of model {manifest.version!r}"
            )
        library = manifest.libraries.get(architecture)
        if library is None:
            raise ConfigurationError(
                f"model {version} in {registry.uri} has no library for {architecture} "
                f"(has: {sorted(manifest.libraries)})"
            )
        target = manifest.library_path(architecture)
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(registry.bucket, registry.key(version, library), str(target))
        verify_files(manifest, required=(library,))
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


class ServedModel:
    """Which directory the functions load their model from: the registry's CURRENT version, fetched
    and verified, or `fallback` (the model layer). Thread-safe; see the module docstring."""

    def __init__(
        self,
        registry: Registry,
        *,
        fallback: Path | None,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        ttl_s: float = 60.0,
        client: Callable[[], Any] = s3_client,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.fallback = fallback
        self.cache_dir = cache_dir
        self.ttl_s = ttl_s
        self._client = client
        self._clock = clock
        self._s3: Any = None
        self._lock = threading.Lock()
        self._refreshing = threading.Event()
        self._checked_at: float | None = None
        self._etag: str | None = None
        self.version: str | None = None  # the registry version served; None: the fallback
        self._directory: Path | None = None
        self.last_error: str | None = None
        # The candidate under trial: (its directory, mode, weight), from ROLLOUT.json; None: none.
        self.candidate: tuple[Path, str, float] | None = None
        self._rollout_etag: str | None = None

    def directory(self) -> Path | None:
        """The served directory; the first call checks the registry itself, later ones start a
        background check once `ttl_s` has passed since the last."""
        if self._checked_at is None:
            return self.refresh()
        if self._clock() - self._checked_at >= self.ttl_s and not self._refreshing.is_set():
            self._refreshing.set()
            threading.Thread(target=self._background, name="model-pointer", daemon=True).start()
        return self._directory or self.fallback

    def refresh(self) -> Path | None:
        """Check the registry now, in this thread."""
        with self._lock:
            self._check()
        return self._directory or self.fallback

    def wait(self, timeout_s: float = 10.0) -> None:
        """Until a background check in progress has finished (tests)."""
        deadline = self._clock() + timeout_s
        while self._refreshing.is_set() and self._clock() < deadline:
            time.sleep(0.01)

    def _background(self) -> None:
        try:
            with self._lock:
                self._check()
        finally:
            self._refreshing.clear()

    def _check(self) -> None:
        self._checked_at = self._clock()
        self._check_pointer()
        try:
            self._check_rollout()
        except Exception as exc:  # the served model stays; the candidate is not run
            self.candidate = None
            logger.error(
                "model candidate not fetched: no shadow or canary scoring",
                extra={"registry": self.registry.uri, "error": f"{type(exc).__name__}: {exc}"},
            )

    def _check_rollout(self) -> None:
        s3 = self._s3 = self._s3 or self._client()
        found = read_rollout(self.registry, s3, unless_etag=self._rollout_etag)
        if found is None:
            return  # unchanged
        document, etag = found
        candidate, mode = document.get("candidate"), document.get("mode")
        if not candidate or mode not in {"shadow", "canary"}:
            self.candidate, self._rollout_etag = None, etag
            return
        directory = fetch_version(self.registry, check_version_name(str(candidate)), self.cache_dir, s3)
        probe(load_verified(directory, str(candidate)))
        self.candidate = (directory, str(mode), float(document.get("weight") or 0.0))
        self._rollout_etag = etag

    def _check_pointer(self) -> None:
        try:
            s3 = self._s3 = self._s3 or self._client()
            pointer = read_pointer(self.registry, s3, unless_etag=self._etag)
            if pointer is None:
                return  # CURRENT unchanged
            if pointer.version is None:
                if self.version is not None:
                    logger.warning(
                        "model registry has no CURRENT: serving the shipped model",
                        extra={"registry": self.registry.uri, "fallback": str(self.fallback)},
                    )
                self.version, self._directory, self._etag = None, None, pointer.etag
                return
            if pointer.version != self.version:
                directory = fetch_version(self.registry, pointer.version, self.cache_dir, s3)
                probe(load_verified(directory, pointer.version))
                logger.info(
                    "serving model from the registry",
                    extra={
                        "version": pointer.version,
                        "registry": self.registry.uri,
                        "previous": self.version,
                    },
                )
                self.version, self._directory = pointer.version, directory
            self._etag = pointer.etag
            self.last_error = None
        except Exception as exc:  # any failure: keep what is served (at cold start, the fallback)
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.error(
                "model registry check failed: keeping the model served",
                extra={
                    "registry": self.registry.uri,
                    "error": self.last_error,
                    "serving": self.version or f"fallback {self.fallback}",
                },
            )


_served: dict[tuple[str, str | None, str, float], ServedModel] = {}
_served_lock = threading.Lock()


def served_model(settings: Settings) -> ServedModel:
    """The process-wide ServedModel of the settings' registry (TG_MODEL_REGISTRY, which must be set),
    fallback (TG_MODEL_DIR), cache directory and re-check period."""
    registry_uri, fallback, cache_dir = settings.model_registry, settings.model_dir, settings.model_cache_dir
    if not registry_uri:
        raise ConfigurationError("no model registry configured (TG_MODEL_REGISTRY)")
    ttl_s = settings.model_registry_ttl_s
    key = (registry_uri, None if fallback is None else str(fallback), str(cache_dir or ""), ttl_s)
    with _served_lock:
        served = _served.get(key)
        if served is None:
            served = ServedModel(
                Registry.parse(registry_uri),
                fallback=None if fallback is None else Path(fallback),
                cache_dir=Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR,
                ttl_s=ttl_s,
            )
            _served[key] = served
        return served


def reset_served_models() -> None:
    with _served_lock:
        _served.clear()

"""A new model version's way into service (issue 17): shadow, canary, promotion, rollback.

The registry (a directory locally, `s3://<archive>/models/` in AWS) holds, beside the versions:
- `CURRENT`: the served version (unchanged: shared.model.remote and training.registry read it);
- `ROLLOUT.json`: the candidate, if any, and how it runs, plus the history of promotions and rollbacks:
      {"candidate": "v20260301.020000", "mode": "shadow" | "canary", "weight": 0.1,
       "since": "<ISO instant>", "history": [{"action": "promote", "version": ..., "previous": ...}, ...]}

In shadow the candidate scores every purchase beside the served model, its score and would-be decision
stored (intel.model_shadow_scores), deciding nothing; as a canary it decides the share `weight` of the
purchases, chosen by a hash of the transaction id (a retried transaction goes to the same model). The
scoring path (shared/scoring/rollout.py) asks `candidate()` for it. The model-ops job's watchdog
(shared/jobs/model_ops.py) rolls a worse candidate back with `rollback`; people run the same functions
through `ticketguard model ...` (training/model_cli.py): no HTTP route changes the served model.

The same code locally and in AWS: only the store differs (LocalStore, S3Store). Functions re-read the
pointer files at most every Settings.model_registry_ttl_s (AWS, in the background: shared.model.remote);
the scoring path asks `candidate()` at most once a second (shared.scoring.models.ServedModels), which
reads a registry directory's ROLLOUT.json then.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from shared.errors import ConfigurationError, ModelIntegrityError
from shared.model.manifest import MANIFEST_NAME
from shared.model.remote import (
    POINTER,
    ROLLOUT,
    Registry,
    check_version_name,
    read_pointer,
    read_rollout,
    s3_client,
    served_model,
    write_pointer,
)

ROLLOUT_NAME = ROLLOUT
MODES = ("shadow", "canary")
DEFAULT_CANARY_WEIGHT = 0.1
MAX_HISTORY = 50
Mode = Literal["shadow", "canary"]


@dataclass(frozen=True)
class Rollout:
    """ROLLOUT.json: the candidate under trial (None: none) and the history, newest last."""

    candidate: str | None = None
    mode: Mode | None = None
    weight: float = 0.0
    since: str | None = None
    history: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rollout:
        candidate, mode = data.get("candidate"), data.get("mode")
        weight = float(data.get("weight") or 0.0)
        if candidate is not None and (not isinstance(candidate, str) or mode not in MODES):
            raise ModelIntegrityError(f"{ROLLOUT_NAME}: a candidate needs a mode in {MODES}, got {mode!r}")
        if not 0.0 <= weight <= 1.0:
            raise ModelIntegrityError(f"{ROLLOUT_NAME}: weight must be within [0, 1], got {weight}")
        history = data.get("history") or []
        if not isinstance(history, list):
            raise ModelIntegrityError(f"{ROLLOUT_NAME}: history must be a list")
        return cls(candidate, mode if candidate else None, weight, data.get("since"), tuple(history))

    def as_json(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "mode": self.mode,
            "weight": self.weight,
            "since": self.since,
            "history": list(self.history[-MAX_HISTORY:]),
        }

    def since_at(self) -> datetime | None:
        return datetime.fromisoformat(self.since) if self.since else None


class Store(Protocol):
    """Where a registry keeps its pointers and versions."""

    def current(self) -> str | None: ...
    def set_current(self, version: str) -> None: ...
    def rollout(self) -> Rollout: ...
    def set_rollout(self, rollout: Rollout) -> None: ...
    def has_version(self, version: str) -> bool: ...
    def describe(self) -> str: ...


class LocalStore:
    """A registry directory (model_artifacts/, or TG_MODEL_DIR when it holds CURRENT)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def current(self) -> str | None:
        pointer = self.root / POINTER
        return pointer.read_text(encoding="utf-8").strip() or None if pointer.is_file() else None

    def _replace(self, name: str, text: str) -> None:
        tmp = self.root / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.root / name)  # atomic: a reader sees the old file or the new one

    def set_current(self, version: str) -> None:
        self._replace(POINTER, version + "\n")

    def rollout(self) -> Rollout:
        path = self.root / ROLLOUT_NAME
        if not path.is_file():
            return Rollout()
        return Rollout.from_json(json.loads(path.read_text(encoding="utf-8")))

    def set_rollout(self, rollout: Rollout) -> None:
        self._replace(ROLLOUT_NAME, json.dumps(rollout.as_json(), indent=2) + "\n")

    def has_version(self, version: str) -> bool:
        return (self.root / version / MANIFEST_NAME).is_file()


class S3Store:
    """A registry in S3 (`s3://<archive>/models/`), through shared.model.remote's reads and writes."""

    def __init__(self, registry: Any, s3: Any) -> None:
        self.registry, self.s3 = registry, s3

    def describe(self) -> str:
        return self.registry.uri

    def current(self) -> str | None:
        pointer = read_pointer(self.registry, self.s3)
        return pointer.version if pointer else None

    def set_current(self, version: str) -> None:
        write_pointer(self.registry, version, self.s3)

    def rollout(self) -> Rollout:
        found = read_rollout(self.registry, self.s3)
        return Rollout.from_json(found[0] if found else {})

    def set_rollout(self, rollout: Rollout) -> None:
        self.s3.put_object(
            Bucket=self.registry.bucket,
            Key=self.registry.key(ROLLOUT_NAME),
            Body=(json.dumps(rollout.as_json(), indent=2) + "\n").encode(),
            ContentType="application/json",
        )

    def has_version(self, version: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.s3.head_object(
                Bucket=self.registry.bucket, Key=self.registry.key(check_version_name(version), MANIFEST_NAME)
            )
        except ClientError as exc:
            # 403 too: S3 answers a HEAD of a missing key with 403 to a caller that may not list the
            # bucket, and the admin function may read every manifest but list none (infra/model_access.py)
            if exc.response.get("Error", {}).get("Code") in {
                "404",
                "NoSuchKey",
                "NotFound",
                "403",
                "AccessDenied",
            }:
                return False
            raise
        return True


def open_store(where: str | None = None) -> Store:
    """The registry named by `where` (a directory or s3://...), else the served model's: TG_MODEL_REGISTRY
    in AWS, else the local registry directory (TG_MODEL_DIR when it holds CURRENT, else model_artifacts/)."""
    if where is None:
        from shared.config import get_settings

        where = get_settings().model_registry
    if where and where.startswith("s3://"):
        return S3Store(Registry.parse(where), s3_client())
    root = Path(where) if where else registry_root()
    if root is None or not (root / POINTER).is_file():
        raise ConfigurationError(f"no model registry at {root}: a registry directory holds CURRENT")
    return LocalStore(root)


def _now(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).isoformat(timespec="seconds")


def _entry(
    action: str, version: str | None, *, by: str, reason: str, now: datetime | None, **extra: Any
) -> dict[str, Any]:
    return {"action": action, "version": version, "by": by, "reason": reason, "at": _now(now), **extra}


def start_candidate(
    store: Store,
    version: str,
    mode: Mode,
    *,
    weight: float = DEFAULT_CANARY_WEIGHT,
    by: str,
    reason: str,
    now: datetime | None = None,
) -> Rollout:
    """`version` runs beside the served one, in shadow or as a canary of share `weight` (a candidate
    already under trial is replaced; the history says so)."""
    if mode not in MODES:
        raise ConfigurationError(f"mode must be one of {MODES}, got {mode!r}")
    if not store.has_version(version):
        raise ConfigurationError(f"no model version {version} in {store.describe()}")
    if version == store.current():
        raise ConfigurationError(f"{version} is already the served version")
    if mode == "canary" and not 0.0 < weight <= 0.5:
        raise ConfigurationError(f"a canary's weight is a share of traffic in (0, 0.5], got {weight}")
    rollout = store.rollout()
    entry = _entry(mode, version, by=by, reason=reason, now=now, replaced=rollout.candidate)
    updated = Rollout(
        version, mode, weight if mode == "canary" else 0.0, _now(now), (*rollout.history, entry)
    )
    store.set_rollout(updated)
    return updated


def promote(
    store: Store, version: str | None = None, *, by: str, reason: str, now: datetime | None = None
) -> Rollout:
    """`version` (default: the candidate) becomes the served version; the candidate's trial ends."""
    rollout = store.rollout()
    version = version or rollout.candidate
    if version is None:
        raise ConfigurationError("no candidate to promote: name a version")
    if not store.has_version(version):
        raise ConfigurationError(f"no model version {version} in {store.describe()}")
    previous = store.current()
    store.set_current(version)
    entry = _entry("promote", version, by=by, reason=reason, now=now, previous=previous)
    updated = Rollout(history=(*rollout.history, entry))
    store.set_rollout(updated)
    return updated


def previous_version(rollout: Rollout, current: str | None) -> str | None:
    """The version served before `current` was promoted, as the history knows it (a rollback is not a
    promotion: rolling back twice goes back twice, never forth to what was rolled back)."""
    for entry in reversed(rollout.history):
        if entry.get("action") == "promote" and entry.get("version") == current:
            previous = entry.get("previous")
            return previous if isinstance(previous, str) else None
    return None


def rollback(
    store: Store, to: str | None = None, *, by: str, reason: str, now: datetime | None = None
) -> Rollout:
    """A candidate under trial: its trial ends (nothing served changes), and with `to` that version
    is served. No candidate: `to`, else the version served before the current one, is served."""
    rollout = store.rollout()
    current = store.current()
    if rollout.candidate is not None and to is None:
        entry = _entry(
            "rollback", rollout.candidate, by=by, reason=reason, now=now, mode=rollout.mode, serving=current
        )
        updated = Rollout(history=(*rollout.history, entry))
        store.set_rollout(updated)
        return updated
    target = to or previous_version(rollout, current)
    if target is None:
        raise ConfigurationError("the history names no earlier served version: give --to VERSION")
    if not store.has_version(target):
        raise ConfigurationError(f"no model version {target} in {store.describe()}")
    store.set_current(target)
    entry = _entry(
        "rollback",
        rollout.candidate or current,
        by=by,
        reason=reason,
        now=now,
        serving=target,
        previous=current,
    )
    updated = Rollout(history=(*rollout.history, entry))
    store.set_rollout(updated)
    return updated


def set_weight(store: Store, weight: float, *, by: str, reason: str, now: datetime | None = None) -> Rollout:
    rollout = store.rollout()
    if rollout.candidate is None or rollout.mode != "canary":
        raise ConfigurationError("no canary running")
    if not 0.0 < weight <= 0.5:
        raise ConfigurationError(f"a canary's weight is a share of traffic in (0, 0.5], got {weight}")
    entry = _entry("weight", rollout.candidate, by=by, reason=reason, now=now, weight=weight)
    updated = replace(rollout, weight=weight, history=(*rollout.history, entry))
    store.set_rollout(updated)
    return updated


def routed_to_candidate(transaction_id: str, weight: float) -> bool:
    """Whether a canary of share `weight` decides this transaction: a fixed point of [0, 1) per id."""
    if weight <= 0.0:
        return False
    digest = hashlib.sha256(transaction_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < weight


# ---------------------------------------------------------------- the scoring path's side


@dataclass(frozen=True)
class Candidate:
    """The candidate as the scoring path uses it: its loaded model, how it runs."""

    model: Any  # shared.model.CompiledModel
    mode: Mode
    weight: float

    def decides(self, transaction_id: str) -> bool:
        return self.mode == "canary" and routed_to_candidate(transaction_id, self.weight)


def registry_root() -> Path | None:
    """The local registry directory the served model comes from: TG_MODEL_DIR when it holds CURRENT,
    else model_artifacts/ (no TG_MODEL_DIR); None when TG_MODEL_DIR is a version directory."""
    from shared.config import get_settings
    from shared.model import ARTIFACTS_ROOT

    configured = get_settings().model_dir
    root = Path(configured) if configured else ARTIFACTS_ROOT
    return root if (root / POINTER).is_file() else None


def candidate() -> Candidate | None:
    """The candidate under trial, loaded and verified; None when there is none or it does not load
    (logged: a broken candidate never stops the served model)."""
    from shared.config import get_settings
    from shared.model import load_model
    from shared.observability import logger

    try:
        settings = get_settings()
        if settings.model_registry:
            served = served_model(settings)
            served.directory()
            trial = served.candidate
            if trial is None:
                return None
            directory, mode, weight = trial
            return Candidate(load_model(directory), "canary" if mode == "canary" else "shadow", weight)
        root = registry_root()
        if root is None:
            return None
        state = LocalStore(root).rollout()
        if state.candidate is None or state.mode is None:
            return None
        return Candidate(load_model(root / state.candidate), state.mode, state.weight)
    except Exception as exc:
        logger.error(
            "model candidate not loaded: scoring with the served model only", extra={"error": str(exc)}
        )
        return None

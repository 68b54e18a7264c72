"""Model versions on the admin surface: what is served, the candidate under trial, the history of
promotions and rollbacks, and the rollback itself, through the same model-operations path as
`ticketguard model rollback` and the watchdog (shared/model/rollout.py)."""

from __future__ import annotations

from typing import Any

from shared.errors import ConfigurationError, Conflict, DependencyUnavailable
from shared.model import rollout

HISTORY = 20


def _open() -> rollout.Store:
    try:
        return rollout.open_store()
    except ConfigurationError as exc:
        raise DependencyUnavailable(f"the model registry is not reachable: {exc.message}") from None


def state(store: rollout.Store | None = None) -> dict[str, Any]:
    store = store or _open()
    current = store.current()
    trial = store.rollout()
    return {
        "registry": store.describe(),
        "current": current,
        "previous": rollout.previous_version(trial, current),
        "candidate": trial.candidate,
        "mode": trial.mode,
        "weight": trial.weight,
        "since": trial.since,
        "history": list(trial.history[-HISTORY:])[::-1],
    }


def roll_back(
    by: str, reason: str, to: str | None = None, store: rollout.Store | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state before, after) of a rollback: a candidate's trial ends, or the previous (or `to`)
    version is served. 409 when there is nothing to roll back to."""
    store = store or _open()
    before = state(store)
    try:
        rollout.rollback(store, to, by=by, reason=reason)
    except ConfigurationError as exc:
        raise Conflict(exc.message, field="to" if to else None) from None
    return before, state(store)

"""Admission sends the purchase's signals query beside its lookup, except for a purchase the cache
already knows is blocklisted (shared.scoring.lookup.admit): that one is answered without it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from shared.scoring import lookup as admission
from shared.scoring.lookup import Lookup


def _admit(monkeypatch: pytest.MonkeyPatch, cached: dict[str, str | None], found: Lookup) -> list[Any]:
    """admit() with its Redis and PostgreSQL steps stubbed; what `lookup` was given to send along."""
    sent_along: list[Any] = []
    monkeypatch.setattr(admission, "read_cache", lambda attempt, queue_more: cached)
    monkeypatch.setattr(
        admission, "lookup", lambda pool, attempt, cached, along=None: sent_along.append(along) or found
    )
    monkeypatch.setattr(admission, "enforce_limits", lambda *args: None)
    monkeypatch.setattr(admission, "cache_fill", lambda *args: None)
    features = SimpleNamespace(
        context=lambda request, ip, now: object(), queue_write_back=lambda prefetched, trip: None
    )
    attempt = SimpleNamespace(request=SimpleNamespace(wallet_address="0xw"), ip="10.0.0.1", now=None)
    admission.admit(attempt, pool=None, features=features, limiter=None)  # type: ignore[arg-type]
    return sent_along


def test_given_a_wallet_the_cache_knows_is_blocked_when_admitted_then_no_signals_query_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the cache's verdict: the wallet is blocklisted
    cached = {"user": "7", "wallet_bl": "1", "ip_bl": "0"}
    blocked = Lookup(existing=None, user_id=7, wallet_blocked=True, ip_blocked=False)
    # When admitted, Then the lookup runs alone
    assert _admit(monkeypatch, cached, blocked) == [None]


def test_given_nothing_cached_blocked_when_admitted_then_the_signals_ride_along_the_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given verdicts the cache does not hold, or holds as not blocked
    for cached in (
        {"user": None, "wallet_bl": None, "ip_bl": None},
        {"user": "7", "wallet_bl": "0", "ip_bl": "0"},
    ):
        found = Lookup(existing=None, user_id=7, wallet_blocked=False, ip_blocked=False)
        # When admitted, Then the signals' statement is handed to the lookup to send beside it
        sent = _admit(monkeypatch, cached, found)
        assert len(sent) == 1 and sent[0] is not None

"""The scoring path's Redis connections pack commands and parse replies with hiredis (issue 29).

redis-py picks hiredis for both by itself when `hiredis` (3.2 or later for redis-py 8) is importable
(`redis.utils.HIREDIS_AVAILABLE`); without it, or with a client built with its own `parser_class` or
`command_packer`, it falls back to its pure-Python packer and RESP parser, the top of the handler's
CPU profile (docs/performance.md). This test fails when that happens; it measures no time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis as redis_lib
from redis._parsers import _HiredisParser, _RESP2Parser, _RESP3Parser
from redis.connection import HiredisRespSerializer, PythonRespSerializer

from shared.api.models import PredictRequest
from shared.cache.clients import get_redis
from shared.scoring.service import score_transaction
from tests.fixtures.api import Market

CLIENT_IP = "203.0.113.50"


def _spy(monkeypatch: pytest.MonkeyPatch, calls: Counter[str], owner: type, name: str) -> None:
    """Counts the calls of `owner.name` under the owner's name, and calls through."""
    original: Callable[..., Any] = getattr(owner, name)

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls[owner.__name__] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, counting)


def test_given_the_request_paths_redis_when_a_purchase_is_scored_then_hiredis_packs_and_parses_every_command(
    redis_url: str, api_market: Market, api_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given redis-py with hiredis (the pinned versions: requirements/*.txt)
    assert redis_lib.utils.HIREDIS_AVAILABLE, f"redis-py {redis_lib.__version__} does not use hiredis"
    # and spies on redis-py's two command packers and its three reply parsers
    calls: Counter[str] = Counter()
    for packer in (HiredisRespSerializer, PythonRespSerializer):
        _spy(monkeypatch, calls, packer, "pack")
    for parser in (_HiredisParser, _RESP2Parser, _RESP3Parser):
        _spy(monkeypatch, calls, parser, "read_response")

    # When a purchase is scored twice (the second time a replay), on fresh connections
    request = PredictRequest(
        transaction_id="t-hiredis",
        wallet_address=api_market.honest_wallet,
        ticket_id=api_market.ticket_ids[0],
        price_paid=80.0,
    )
    first = score_transaction(request, client_ip=CLIENT_IP)
    again = score_transaction(request, client_ip=CLIENT_IP)

    # Then Redis answered (not the degraded path), and hiredis packed every command and parsed every reply
    assert not first.degraded and again.replayed
    assert calls["HiredisRespSerializer"] > 0 and calls["_HiredisParser"] > 0
    assert calls["PythonRespSerializer"] == 0
    assert calls["_RESP2Parser"] == 0 and calls["_RESP3Parser"] == 0
    # And every connection the request path's client holds reads with a hiredis reader
    client = get_redis()
    assert client is not None
    pool = client.connection_pool
    connections = [*pool._available_connections, *pool._in_use_connections]
    assert connections
    for connection in connections:
        assert isinstance(connection._command_packer, HiredisRespSerializer)
        assert isinstance(connection._parser, _HiredisParser)
        assert type(connection._parser._reader).__module__ == "hiredis"  # hiredis.Reader

"""Issue 25's "Done when", over HTTP on the local stack's pieces (the gateway with its edge lists and
access log, the ingest queue and consumer, the SIEM and SOAR loop): a brute force reported through
ingest is found, its IP blocked at the gateway (403) until the expiry lifts it; a request flood from
60 addresses is a DDoS finding whose addresses are challenged; pages reach the on-call outbox; the
never-block list and the hourly cap hold."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.api.usage_plans import local_api_key
from shared.config import SecuritySettings
from tests.fixtures.ingest import post_and_wait
from tooling.simulator.attacks import brute_force_facts, flood

Stack = Callable[..., tuple[str, Path]]


@pytest.fixture
def stack(database_url: str, redis_url: str, api_state: None, tmp_path: Path) -> Iterator[Stack]:
    """Starts the gateway and the security loop with the given SOAR settings; returns (url, outbox)."""
    from tooling.local.gateway import LocalGateway, queue_consumers, start_in_thread
    from tooling.local.security import AccessLog, EdgeGuard, EdgeMiddleware, LocalEffectors, SecurityLoop

    stops: list[Callable[[], None]] = []

    def start(**settings: Any) -> tuple[str, Path]:
        queues_cm = queue_consumers(tmp_path / "queues")
        queues = queues_cm.__enter__()
        access_log, outbox = AccessLog(), tmp_path / "pages.jsonl"
        gateway = LocalGateway(queues=queues)
        edge = EdgeGuard(database_url, refresh_s=0.1)
        gateway.app.add_middleware(EdgeMiddleware, edge=edge, access_log=access_log)
        running = start_in_thread(gateway)
        loop = SecurityLoop(
            database_url, redis_url, access_log, LocalEffectors(outbox),
            settings=SecuritySettings(**settings), interval_s=0.2, poll_every_s=0.2,
        )  # fmt: skip
        loop.start()
        stops.extend([running.stop, loop.stop, lambda: queues_cm.__exit__(None, None, None)])
        return running.url, outbox

    yield start
    for stop in stops:
        stop()


def _from(url: str, address: str, path: str = "/health") -> httpx.Response:
    with httpx.Client(
        base_url=url, transport=httpx.HTTPTransport(local_address=address), timeout=10
    ) as client:
        return client.get(path)


def _until(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _report(url: str, ip: str, **kw: Any) -> None:
    with httpx.Client(base_url=url, headers={"x-api-key": local_api_key()}, timeout=60) as client:
        outcome = post_and_wait(client, {"events": brute_force_facts(ip, **kw)})
    assert {r["status"] for r in outcome["results"]} == {"accepted"}, outcome


def test_a_brute_force_blocks_its_ip_at_the_gateway_until_the_expiry_lifts_it(stack: Stack) -> None:
    # Given the stack, blocks lasting 3 s
    url, outbox = stack(soar_block_ttl_s=3)
    assert _from(url, "127.0.88.1").status_code == 200
    # When the marketplace reports six failed logins from 127.0.88.1
    _report(url, "127.0.88.1", prefix="bf1")
    # Then the gateway refuses that address (403, WAF's block) and the on-call is paged
    _until(lambda: _from(url, "127.0.88.1").status_code == 403)
    assert _from(url, "127.0.88.1").headers["x-amzn-waf-action"] == "block"
    assert _from(url, "127.0.88.2").status_code == 200
    page = json.loads(outbox.read_text().splitlines()[0])
    assert page["severity"] == "HIGH" and page["payload"]["payload"]["class"] == "brute_force"
    # And once the block expires, the lift job lets it through again
    _until(lambda: _from(url, "127.0.88.1").status_code == 200, timeout_s=20)


def test_a_flood_from_sixty_addresses_is_a_ddos_and_they_are_challenged(stack: Stack) -> None:
    url, outbox = stack()
    # When 60 addresses each send more than the dashboard key's burst at once
    statuses = flood(url, local_api_key("dashboard"), sources=60, per_source=4)
    assert statuses[429] > 0
    # Then the refused addresses are challenged (WAF's challenge answer), others are not
    _until(lambda: _from(url, "127.77.1.5").status_code == 202)
    challenged = _from(url, "127.77.1.5")
    assert challenged.headers["x-amzn-waf-action"] == "challenge"
    assert _from(url, "127.0.55.5").status_code == 200
    _until(lambda: outbox.exists() and '"ddos"' in outbox.read_text())


def test_the_never_block_list_and_the_hourly_cap_hold(stack: Stack) -> None:
    # Given the backend's egress 127.0.99.0/24 never blocked, and at most one automatic block an hour
    url, outbox = stack(soar_never_block="127.0.99.0/24", soar_max_blocks_per_hour=1)
    # When brute forces come from a protected address, then from two others
    for ip, prefix in (("127.0.99.7", "nb"), ("127.0.66.1", "cap1"), ("127.0.66.2", "cap2")):
        _report(url, ip, prefix=prefix)
    _until(lambda: outbox.exists() and len(outbox.read_text().splitlines()) >= 3)
    # Then the protected address passes, the first other is blocked, the cap spares the second
    assert _from(url, "127.0.99.7").status_code == 200
    assert _from(url, "127.0.66.1").status_code == 403
    assert _from(url, "127.0.66.2").status_code == 200
    summaries = " ".join(
        json.loads(line)["payload"]["payload"]["summary"] for line in outbox.read_text().splitlines()
    )
    assert "skipped" in summaries

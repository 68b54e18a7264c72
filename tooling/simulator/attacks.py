"""Live attacks on a running stack, for the SIEM and SOAR to find (`make run`, the e2e tests). They
send what an attacker's traffic makes the marketplace and the gateway see; the simulated marketplace
(its fraud scenarios, their features) is untouched.

- `brute_force_facts`: failed logins from one address, as the marketplace backend reports them
  through ingest (`login.attempted`): credential stuffing against several accounts (failures
  `unknown_user` and `bad_password`), or an admin's second factor hammered (`bad_mfa`).
- `flood`: a request flood from many source addresses at once. Locally every 127.x.y.z address is
  the loopback interface, so each simulated attacker connects from an address of its own, which is
  what the gateway (like API Gateway's sourceIp) sees; each sends more than its API key's burst."""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

_ids = itertools.count(1)


def brute_force_facts(
    ip: str,
    *,
    attempts: int = 6,
    admin_email: str | None = None,
    at: datetime | None = None,
    prefix: str = "attack",
) -> list[dict[str, Any]]:
    """`attempts` failed logins from `ip` a few seconds apart: against made-up and real-looking
    customer e-mails, or (admin_email) an admin whose second factor keeps failing."""
    start = at or datetime.now(UTC)
    facts = []
    for i in range(attempts):
        n = next(_ids)
        if admin_email:
            data = {"attempt_id": f"{prefix}-{n}", "email": admin_email, "ip": ip, "success": False,
                    "failure_reason": "bad_mfa", "is_admin": True, "mfa": "failed"}  # fmt: skip
        else:
            reason = "unknown_user" if i % 3 else "bad_password"
            data = {"attempt_id": f"{prefix}-{n}", "email": f"victim{n}@example.org", "ip": ip, "success": False,
                    "failure_reason": reason}  # fmt: skip
        occurred = (start + timedelta(seconds=4 * i)).isoformat()
        facts.append(
            {
                "event_id": f"{prefix}-login-{n}",
                "type": "login.attempted",
                "occurred_at": occurred,
                "data": data,
            }
        )
    return facts


def flood(
    base_url: str,
    api_key: str,
    *,
    sources: int = 60,
    per_source: int = 4,
    path: str = "/api/v1/metrics",
    first: tuple[int, int] = (77, 1),
) -> Counter[int]:
    """`sources` clients, each from its own loopback address (127.<a>.<b>.1 upwards), sending
    `per_source` requests at once; the statuses they got, counted."""
    a, b = first

    def client_run(i: int) -> list[int]:
        address = f"127.{a}.{b + i // 250}.{1 + i % 250}"
        transport = httpx.HTTPTransport(local_address=address)
        with httpx.Client(base_url=base_url, transport=transport, timeout=10.0) as client:
            return [client.get(path, headers={"x-api-key": api_key}).status_code for _ in range(per_source)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = [status for batch in pool.map(client_run, range(sources)) for status in batch]
    return Counter(statuses)

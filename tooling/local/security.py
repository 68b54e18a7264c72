"""Security operations on the laptop (issue 25): the same SIEM and SOAR code as the functions, wired
to what runs locally.

- `EdgeGuard`: the local gateway enforces the blocklist's two IP kinds as WAF enforces its two IP
  sets: a blocked address gets 403, a challenged one WAF's challenge answer (202 with
  `x-amzn-waf-action: challenge`). It reads the live entries from PostgreSQL at most once a second
  (WAF's own propagation is not faster).
- `AccessLog`: the gateway's access-log lines (API Gateway's json_with_standard_fields) for the
  requests the SIEM's subscription filter passes (429 and 403, infra/security_ops.py ACCESS_PATTERN).
- `SecurityLoop`: delivers those lines to the SIEM as a real CloudWatch Logs subscription event, polls
  the database sources, runs the lift job; findings go straight to the SOAR (EventBridge's part).
- `LocalEffectors`: WAF sets are the blocklist itself (nothing to sync), a page is appended to a
  JSON-lines outbox (and logged), the admin directory is a set of disabled names."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis

from shared.config import SecuritySettings, get_security_settings
from shared.observability import logger
from shared.siem import entry as siem_entry
from shared.siem.models import Finding
from shared.siem.publish import DETAIL_TYPE, SOURCE
from shared.soar import entry as soar_entry
from shared.soar.blocklist import live_networks
from tooling.local.cloudwatch import access_log_line, subscription_event

ACCESS_LOG_GROUP = "/aws/apigateway/ticketguard-local-access"
LOGGED_STATUSES = frozenset({403, 429})
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EdgeGuard:
    def __init__(self, database_url: str, refresh_s: float = 1.0) -> None:
        self.database_url = database_url
        self.refresh_s = refresh_s
        self._lists: dict[str, list[Network]] = {"ip": [], "challenge": []}
        self._read_at = 0.0
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            lists = {
                kind: [ipaddress.ip_network(n) for n in live_networks(conn, kind)]
                for kind in ("ip", "challenge")
            }
        self._lists = lists

    def verdict(self, ip: str | None) -> str | None:
        """`block`, `challenge` or None for a client address."""
        if not ip:
            return None
        with self._lock:
            if time.monotonic() - self._read_at > self.refresh_s:
                try:
                    self._refresh()
                except psycopg.Error as exc:  # the edge keeps its last lists while PostgreSQL is away
                    logger.warning("edge lists not refreshed", extra={"error": type(exc).__name__})
                self._read_at = time.monotonic()
            lists = self._lists
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if any(address in network for network in lists["ip"]):
            return "block"
        if any(address in network for network in lists["challenge"]):
            return "challenge"
        return None


@dataclass
class AccessLog:
    lines: list[tuple[datetime, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, ip: str, status: int, method: str, path: str) -> None:
        if status not in LOGGED_STATUSES:
            return
        at = datetime.now(UTC)
        line = json.loads(access_log_line(ip, status, at, path=path))
        line["httpMethod"] = method
        with self.lock:
            self.lines.append((at, json.dumps(line)))

    def drain(self) -> list[tuple[datetime, str]]:
        with self.lock:
            lines, self.lines = self.lines, []
        return lines


@dataclass
class LocalEffectors:
    outbox: Path
    disabled: set[str] = field(default_factory=set)

    def sync_ip_set(self, kind: str, networks: Sequence[str]) -> dict[str, Any]:
        return {"local": f"the local gateway reads the {kind} list itself", "addresses": len(networks)}

    def page(self, severity: str, subject: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with self.outbox.open("a") as out:
            out.write(json.dumps({"severity": severity, "subject": subject, "payload": payload}) + "\n")
        logger.warning("page", extra={"event_type": "page", "severity": severity, "subject": subject})
        return {"outbox": str(self.outbox)}

    def disable_user(self, username: str) -> dict[str, Any]:
        self.disabled.add(username)
        return {"user": username, "enabled": False}

    def enable_user(self, username: str) -> dict[str, Any]:
        self.disabled.discard(username)
        return {"user": username, "enabled": True}


class SecurityLoop:
    """The SIEM and SOAR on a timer, in a background thread (`make run`, the e2e tests)."""

    def __init__(
        self,
        database_url: str,
        redis_url: str,
        access_log: AccessLog,
        effectors: LocalEffectors,
        *,
        settings: SecuritySettings | None = None,
        interval_s: float = 1.0,
        poll_every_s: float = 5.0,
    ) -> None:
        self.settings = settings or get_security_settings()
        self.access_log = access_log
        self.interval_s, self.poll_every_s = interval_s, poll_every_s
        client = redis.Redis.from_url(redis_url)

        def connect() -> psycopg.Connection[Any]:
            return psycopg.connect(database_url, autocommit=True)

        self.soar = soar_entry.SoarDeps(connect, client, effectors, self.settings)
        self.siem = siem_entry.SiemDeps(connect, client, self._to_soar, self.settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def _to_soar(self, findings: Sequence[Finding]) -> None:
        for finding in findings:
            event = {"detail-type": DETAIL_TYPE, "source": SOURCE, "detail": finding.detail()}
            soar_entry.run(event, self.soar)

    def run_once(self, *, poll: bool = True) -> None:
        lines = self.access_log.drain()
        if lines:
            siem_entry.run(subscription_event(ACCESS_LOG_GROUP, lines), self.siem)
        if poll:
            siem_entry.run({"detail-type": "Scheduled Event", "detail": {}}, self.siem)
            soar_entry.run({"detail-type": "Scheduled Event", "detail": {}}, self.soar)
        self.rounds += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="local-security", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        polled = 0.0
        while not self._stop.wait(self.interval_s):
            poll = time.monotonic() - polled >= self.poll_every_s
            try:
                self.run_once(poll=poll)
            except Exception as exc:  # logged; the loop goes on (a scheduled job's failure, locally)
                logger.warning("security loop failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            if poll:
                polled = time.monotonic()


def edge_answer(verdict: str) -> Any:
    """What WAF answers: 403 for the block list; for the challenge list its Challenge action's answer,
    202 with `x-amzn-waf-action: challenge` (a browser solves it silently, a script does not)."""
    from starlette.responses import JSONResponse

    if verdict == "block":
        body = {"error": {"code": "forbidden", "message": "this address is blocked"}}
        return JSONResponse(body, status_code=403, headers={"x-amzn-waf-action": "block"})
    body = {"error": {"code": "challenge", "message": "solve the challenge to continue"}}
    return JSONResponse(body, status_code=202, headers={"x-amzn-waf-action": "challenge"})


class EdgeMiddleware:
    """WAF's part in front of the local gateway (`gateway.app.add_middleware(EdgeMiddleware, edge=...,
    access_log=...)`): the edge lists first, then the access log's line for the response's status."""

    def __init__(self, app: Any, edge: EdgeGuard | None = None, access_log: AccessLog | None = None) -> None:
        self.app, self.edge, self.access_log = app, edge, access_log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import anyio

        client = scope.get("client")
        ip = client[0] if client else None
        verdict = await anyio.to_thread.run_sync(self.edge.verdict, ip) if self.edge is not None else None
        if verdict is not None:
            await edge_answer(verdict)(scope, receive, send)
            return
        status: dict[str, int] = {}

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, capture)
        if self.access_log is not None and ip is not None and "code" in status:
            self.access_log.record(ip, status["code"], scope["method"], scope["path"])

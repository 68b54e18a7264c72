"""Alerts on the laptop (issue 27) on `make run`'s stack (`ticketguard run`, as a process): Redis stopped
-> the degraded-scoring alarm fires locally -> Redis back -> it clears; a simulated fraud spike (purchases
from blocklisted wallets) fires the fraud-rate-spike alarm, whose action tightens REQUIRE_2FA, which
reverts after its time. The alarms run 60x faster (a 1-minute period is 1 s) and the tightening lasts
8 s, so that the test takes seconds; the definitions and the evaluation are the deployed ones."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest

from shared.api.usage_plans import local_api_key
from shared.oncall.tightening import AdjustedThresholds
from tests.e2e.test_local_runner import STARTUP_LIMIT_S, _clean_env, _free_port
from tests.fixtures.api import seed_market
from tests.fixtures.faults import PREDICT, purchase

TIGHTEN_S = 8


class Run:
    def __init__(self, proc: subprocess.Popen[str], lines: list[str], url: str, alerts: Path) -> None:
        self.proc, self.lines, self.url, self.alerts = proc, lines, url, alerts
        self.market = None
        self.database_url = ""

    def printed(self, pattern: str) -> re.Match[str]:
        found = re.search(pattern, "".join(self.lines))
        assert found, "".join(self.lines)[-3000:]
        return found

    def kept(self) -> list[dict]:
        if not self.alerts.exists():
            return []
        return [json.loads(line) for line in self.alerts.read_text().splitlines()]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One `ticketguard run` for the module (its start is the slow part), with a seeded market."""
    port, alerts = _free_port(), tmp_path_factory.mktemp("oncall") / "alerts.jsonl"
    env = _clean_env() | {"TG_ONCALL_TIGHTEN_SECONDS": str(TIGHTEN_S), "TG_RATELIMIT_IP_PER_MINUTE": "100000"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tooling.cli",
            "run",
            "--port",
            str(port),
            "--no-seed",
            "--no-schedules",
            "--alarm-speedup",
            "60",
            "--alerts-file",
            str(alerts),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    stack = Run(proc, lines, f"http://127.0.0.1:{port}", alerts)
    try:
        _wait(lambda: _answers(stack.url), 3 * STARTUP_LIMIT_S, "the API did not answer")
        stack.database_url = stack.printed(r"postgres: (\S+) \(embedded").group(1)
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            stack.market = seed_market(conn)
        yield stack
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=5).status_code in (200, 503)
    except httpx.TransportError:
        return False


def _wait(condition: Callable[[], bool], seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(message)  # (the run's output: see the captured stdout)


def _states(stack: Run, alarm: str) -> list[str]:
    return [a["state"] for a in stack.kept() if a["alarm"] == f"ticketguard-local-{alarm}"]


def _post_for(
    stack: Run, client: httpx.Client, market, seconds: float, wallet: Callable[[int], str]
) -> list[int]:
    statuses, start, i = [], time.monotonic(), 0
    while time.monotonic() - start < seconds:
        body = purchase(market, f"oc-{time.time_ns()}", wallet(i), i)
        statuses.append(client.post(PREDICT, json=body).status_code)
        i += 1
        time.sleep(0.1)
    return statuses


def test_given_make_run_when_redis_stops_then_degraded_scoring_fires_and_clears_when_it_is_back(
    run: Run,
) -> None:
    redis_pid = int(run.printed(r"redis: \S+ \(embedded, pid (\d+)\)").group(1))
    run.printed(r"alarms: 4 evaluated locally")
    market = run.market
    headers = {"x-api-key": local_api_key()}
    with httpx.Client(base_url=run.url, headers=headers, timeout=30) as client:
        # Given scoring that answers with Redis up (no alert)
        assert set(_post_for(run, client, market, 2, lambda i: "0x" + f"{i:040x}")) == {200}
        assert _states(run, "degraded-scoring") == []
        # When Redis stops (SIGSTOP: it hangs, as an unresponsive node) while purchases come in
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            statuses = _post_for(run, client, market, 4, lambda i: "0x" + f"{i + 1000:040x}")
        finally:
            # (And is back: SIGCONT)
            os.kill(redis_pid, signal.SIGCONT)
        assert 200 in statuses
        # Then the degraded-scoring alarm fired locally, its composite paged, printed and kept
        _wait(lambda: "ALARM" in _states(run, "degraded-scoring"), 10, "degraded-scoring did not fire")
        assert "ALARM" in _states(run, "scoring-degraded")
        run.printed(r"\[alert\] ALARM ticketguard-local-degraded-scoring HIGH")
        # When Redis answers again and purchases go on, Then the alarm clears
        _post_for(run, client, market, 6, lambda i: "0x" + f"{i + 2000:040x}")
        _wait(lambda: _states(run, "degraded-scoring")[-1:] == ["OK"], 15, "degraded-scoring did not clear")
        assert _states(run, "degraded-scoring") == ["ALARM", "OK"]


def test_given_make_run_when_fraud_spikes_then_two_factor_tightens_then_reverts(run: Run) -> None:
    database_url, market = run.database_url, run.market
    with psycopg.connect(database_url, autocommit=True) as conn:
        wallets = ["0x" + f"{i + 5000:040x}" for i in range(200)]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO intel.blocklist (kind, value, reason, source) VALUES ('wallet', %s, 'e2e', 'test')",
                [(w,) for w in wallets],
            )
    thresholds = AdjustedThresholds(lambda: _Direct(database_url))
    headers = {"x-api-key": local_api_key()}
    with httpx.Client(base_url=run.url, headers=headers, timeout=30) as client:
        # Given no spike in force (the other test's purchases may have raised one: it clears without
        # traffic, and its tightening expires)
        _wait(
            lambda: _states(run, "fraud-rate-spike")[-1:] != ["ALARM"], 40, "fraud-rate-spike stays in ALARM"
        )
        _wait(lambda: thresholds.at(_now()).two_factor == 0.40, TIGHTEN_S + 10, "a tightening stays in force")
        fired_before = _states(run, "fraud-rate-spike").count("ALARM")
        # When purchases from blocklisted wallets (BLOCKED) come in for two 5-minute periods (5 s here)
        statuses = _post_for(run, client, market, 11, lambda i: wallets[i % len(wallets)])
        assert set(statuses) == {200}
        # Then the fraud-rate-spike alarm fires and its action tightens REQUIRE_2FA (recorded)
        _wait(
            lambda: _states(run, "fraud-rate-spike").count("ALARM") > fired_before,
            10,
            "fraud-rate-spike did not fire",
        )
        fired = [a for a in run.kept() if a["alarm"] == "ticketguard-local-fraud-rate-spike"][-1]
        adjustment = fired["result"]["adjustment"]
        assert (adjustment["value"], adjustment["base_value"], adjustment["source"]) == (0.30, 0.40, "alarm")
        started = datetime.fromisoformat(adjustment["started_at"])
        expires = datetime.fromisoformat(adjustment["expires_at"])
        assert (expires - started).total_seconds() == TIGHTEN_S
        # (what scoring reads within that time; read at a time inside it, however loaded the machine)
        assert (
            AdjustedThresholds(lambda: _Direct(database_url)).at(started + (expires - started) / 2).two_factor
            == 0.30
        )
        # And after its time it reverts by itself (nothing runs: the record's expiry passed)
        _wait(
            lambda: AdjustedThresholds(lambda: _Direct(database_url)).at(_now()).two_factor == 0.40,
            TIGHTEN_S + 10,
            "the threshold did not revert",
        )


class _Direct:
    def __init__(self, url: str) -> None:
        self.url = url

    def connection(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)


def _now() -> datetime:
    return datetime.now(UTC)

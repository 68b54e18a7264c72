"""The monitoring page in headless Chromium against `make run`'s data: `ticketguard run` as `make run`
starts it (the seeded week, the demo cast), the README's example requests for live traffic, an auditor
signed in with password and TOTP through the page's own form. Every one of the six sections renders
with data, the severity filter filters, the live figures refresh every 5 seconds, and the browser
reports no console error, uncaught exception, failed load or Content-Security-Policy violation.

TG_MONITORING_SCREENSHOT=docs/monitoring.png keeps the screenshot (the README shows that file)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp
import pytest

from shared.api.usage_plans import local_api_key
from tests.fixtures.browser import Browser, chromium_path
from tooling.simulator.demo import (
    DEMO_BLOCKED_WALLET,
    DEMO_HONEST_WALLET,
    DEMO_NEW_WALLET,
    DEMO_PRICE,
    DEMO_TICKETS,
)

STARTUP_LIMIT_S = 300
SECTIONS = ("kpis", "fraud", "traffic", "model", "pricing", "system", "security")


@dataclass
class Stack:
    base: str
    env: dict[str, str]
    lines: list[str]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`ticketguard run` with make run's seeding (its timers off: the test needs none of them)."""
    chromium_path()  # no browser: say so before a minute of seeding
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"TG_ENVIRONMENT": "local", "TG_LOCAL_ADMIN_DIR": str(tmp_path_factory.mktemp("admin"))}
    command = [sys.executable, "-m", "tooling.cli", "run", "--port", str(port), "--no-schedules"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while not any(line.startswith("Ready:") for line in lines):
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.5)
        yield Stack(f"http://127.0.0.1:{port}", env, lines)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _auditor(stack: Stack) -> tuple[str, str, str]:
    """(username, password, TOTP secret) of a new auditor, from `ticketguard admin create-user`."""
    out = subprocess.run(
        [sys.executable, "-m", "tooling.cli", "admin", "create-user", "monitor", "--role", "auditor"],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    password = re.search(r"^password:\s+(\S+)", out, re.M)
    secret = re.search(r"^totp secret:\s+(\S+)", out, re.M)
    assert password and secret, out
    return "monitor", password.group(1), secret.group(1)


def _readme_traffic(base: str) -> list[int]:
    """The README's example purchases: the honest buyer, the banned scalper, six of a new wallet."""
    headers = {"x-api-key": local_api_key(), "content-type": "application/json"}
    run = time.time_ns()

    def body(txn: str, wallet: str, ticket: str) -> str:
        return json.dumps(
            {
                "transaction_id": txn,
                "wallet_address": wallet,
                "ticket_id": DEMO_TICKETS[ticket],
                "price_paid": float(DEMO_PRICE),
            }
        )

    requests = [body(f"mon-ok-{run}", DEMO_HONEST_WALLET, "honest")]
    requests.append(body(f"mon-blocked-{run}", DEMO_BLOCKED_WALLET, "blocked"))
    requests += [body(f"mon-burst-{run}-{i}", DEMO_NEW_WALLET, "new_wallet") for i in range(6)]
    with httpx.Client(base_url=base, timeout=30) as client:
        return [
            client.post("/api/v1/ml/predict/fraud", content=b, headers=headers).status_code for b in requests
        ]


def _pricing_assignments(base: str) -> list[dict]:
    """The marketplace backend pricing the seeded events (POST /api/v1/pricing/assignments): the answers
    of those that exist (the seeding lists its events with their own integer ids)."""
    headers = {"x-api-key": local_api_key()}
    with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
        answers = [client.post("/api/v1/pricing/assignments", json={"event_id": i}) for i in range(1, 25)]
    assert {a.status_code for a in answers} <= {200, 404}, [a.text for a in answers if a.status_code >= 500]
    return [a.json() for a in answers if a.status_code == 200]


SECTION_FIGURES = """(() => {
  const rows = (sel) => document.querySelectorAll(`${sel} tbody tr`).length;
  const chartSum = (id) => { const c = Chart.getChart(document.getElementById(id));
    return c ? c.data.datasets[0].data.reduce((a, b) => a + (b || 0), 0) : -1; };
  return {
    states: Object.fromEntries(SECTIONS_JSON.map((id) => [id, document.getElementById(id).dataset.state])),
    tph: document.getElementById('kpi-tph').textContent, p95: document.getElementById('kpi-p95').textContent,
    histogram: chartSum('chart-score-histogram'), series: chartSum('chart-score-series'),
    kpiHourly: chartSum('chart-kpi-hourly'), highRisk: rows('#high-risk'),
    requests: Number(document.getElementById('traffic-hour').textContent.replace(/,/g, '')),
    violations: Number(document.getElementById('traffic-violations').textContent.replace(/,/g, '')),
    topIps: rows('#top-ips'), trafficChart: chartSum('chart-traffic'),
    confusion: ['cm-tp', 'cm-fp', 'cm-tn', 'cm-fn'].map((id) => document.getElementById(id).textContent),
    quality: rows('#quality'), drift: chartSum('chart-drift'),
    pricingArms: [...document.querySelectorAll('#pricing-arms tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent)),
    pricingShares: chartSum('chart-pricing-shares'), pricingAssigned: document.getElementById('pricing-assigned').textContent,
    pricingKill: document.getElementById('pricing-kill').textContent, pricingExplore: document.getElementById('pricing-explore').textContent,
    services: [...document.querySelectorAll('#services li')].map((li) => li.textContent),
    resources: document.querySelectorAll('#resources dd').length,
    events: [...document.querySelectorAll('#security-events tbody tr')].map((tr) => tr.children[1].textContent),
    updated: document.getElementById('updated').textContent,
  };
})()""".replace("SECTIONS_JSON", json.dumps(list(SECTIONS)))


def _sign_in(browser: Browser, base: str, username: str, password: str, secret: str) -> None:
    browser.navigate(f"{base}/admin/monitoring")
    browser.wait_for("!document.getElementById('sign-in').hidden")
    fields = json.dumps({"username": username, "password": password, "code": pyotp.TOTP(secret).now()})
    browser.evaluate(
        f"""(() => {{ const form = document.getElementById('sign-in-form'); const values = {fields};
        for (const [name, value] of Object.entries(values)) form.elements[name].value = value;
        form.requestSubmit(); }})()"""
    )


def test_given_make_runs_data_when_an_auditor_opens_the_page_then_every_section_renders_with_data(
    stack: Stack, tmp_path: Path
) -> None:
    # Given make run's seeded marketplace and the README's purchases (the sixth of a burst refused)
    assert _readme_traffic(stack.base) == [200] * 7 + [429]
    # And the backend pricing the seeded events (the experiment's assignments, epsilon-greedy)
    priced = _pricing_assignments(stack.base)
    assert len(priced) >= 5, priced
    # And the data routes refuse a caller without the admin sign-in
    unauthenticated = httpx.get(f"{stack.base}/api/v1/admin/monitoring/live", timeout=30)
    assert unauthenticated.status_code == 401 and unauthenticated.json()["error"]["code"] == "unauthorized"
    # When an auditor signs in through the page's form (password and TOTP)
    with Browser() as browser:
        _sign_in(browser, stack.base, *_auditor(stack))
        browser.wait_for(
            f"{json.dumps(list(SECTIONS))}.every((id) => document.getElementById(id).dataset.state === 'ready')"
            " && document.getElementById('model').dataset.rows !== undefined",
            timeout_s=90,
        )
        figures = browser.evaluate(SECTION_FIGURES)
        # Then every section shows data: 1. the KPIs (the scored purchases' latency too) and their hourly series
        assert figures["tph"] != "-" and figures["p95"] != "-" and figures["kpiHourly"] > 0, figures
        # 2. the score distribution, the decisions per hour and the high-risk feed
        assert figures["histogram"] > 0 and figures["series"] > 0 and figures["highRisk"] > 0, figures
        # 3. the requests just made, the refused one, the IP they came from
        assert figures["requests"] >= 8 and figures["violations"] >= 1 and figures["topIps"] >= 1, figures
        assert figures["trafficChart"] >= 8, figures
        # 4. the confusion matrix, precision/recall per version, the drift trend
        assert all(cell.isdigit() or cell.replace(",", "").isdigit() for cell in figures["confusion"]), (
            figures
        )
        assert figures["quality"] >= 1 and figures["drift"] > 0, figures
        # 7. the pricing experiment: the arms' shares of exactly the events assigned, four arms, the kill
        # switch's state and the exploration share
        assert figures["pricingShares"] == len(priced) and figures["pricingAssigned"] == str(len(priced)), (
            figures
        )
        assert [arm[0] for arm in figures["pricingArms"]] == ["A", "B", "C", "D"], figures
        assert figures["pricingKill"] == "off" and figures["pricingExplore"].endswith("%"), figures
        # 5. every service with its status, and the resources
        assert (
            any(s.startswith("postgres: up") for s in figures["services"]) and len(figures["services"]) >= 5
        )
        assert figures["resources"] >= 6, figures
        # 6. the security events of the day
        assert len(figures["events"]) >= 1, figures
        # When the severity filter keeps only MEDIUM (the seeded fraud blocks and the blocklisted scalper)
        browser.evaluate(
            "document.querySelectorAll('#severity-filter input').forEach((box) => "
            "{ if (box.checked !== (box.value === 'MEDIUM')) box.click(); })"
        )
        shown = browser.wait_for(
            "(() => { const s = [...document.querySelectorAll('#security-events tbody tr')]"
            ".map((tr) => tr.children[1].textContent); return s.length && s.every((v) => v === 'MEDIUM') && s; })()"
        )
        # Then only those come, and the live figures go on refreshing every 5 seconds
        assert set(shown) == {"MEDIUM"}
        before = browser.evaluate("document.getElementById('updated').textContent")
        browser.wait_for(f"document.getElementById('updated').textContent !== {json.dumps(before)}", 15)
        screenshot = Path(os.environ.get("TG_MONITORING_SCREENSHOT") or tmp_path / "monitoring.png")
        browser.evaluate(
            "document.querySelectorAll('#severity-filter input').forEach((b) => { if (!b.checked) b.click(); })"
        )
        time.sleep(6)  # one more refresh with every severity, for the screenshot
        browser.screenshot(screenshot)
        # And the browser saw no error: no console error, exception, failed load or CSP violation
        assert browser.errors == []

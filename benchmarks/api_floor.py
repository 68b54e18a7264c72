"""The floor of `make bench-api` (issue 29, item 2): the least a scoring request can cost here, measured
in the same process and run as the full handler, and a profile of the handler.

The minimal path does the same work against the same servers and nothing else: the admission round
trip (one pipeline: the MGET of the wallet->user link and the blocklist verdicts, with the purchase's
feature read queued beside it), the rate-limit script (one Lua call), the compiled model's score and
contributions of one feature vector, the same INSERT of the stored prediction, and the purchase added
to the real-time windows (one more round trip). No event parsing, validation, routing, response model,
logging, metrics, feature formulas, lookup query or cold-start guard: what the handler adds on top
of it is overhead, which the ratios show.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import os
import pstats
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from benchmarks.machine_cpu import SERVERS, servers_cpu_s

Sample = tuple[str, int, float]


def sample_ip(i: int) -> str:
    """Request i's buyer IP, the same in every path: 62,500 of them in turn, so each path's requests
    spread over the IP limit's subjects alike."""
    return f"198.51.{(i // 250) % 250}.{i % 250 + 1}"


def floor_request(run: str, samples: list[Sample]) -> Callable[[int], None]:
    """One request of the minimal path, as a function of its number."""
    from shared.cache.clients import get_redis
    from shared.cache.roundtrip import RoundTrip
    from shared.db import get_pool
    from shared.features import realtime
    from shared.features.realtime import ScoringContext
    from shared.model import load_model
    from shared.ratelimit import RateLimiter
    from shared.ratelimit.limiter import PREDICT_ROUTE
    from shared.scoring.lookup import cache_keys
    from shared.scoring.predictions import INSERT_SQL

    pool, client, model, limiter = get_pool(), get_redis(), load_model(), RateLimiter()
    assert client is not None, "the floor needs Redis"

    def one(i: int) -> None:
        wallet, ticket, price = samples[i % len(samples)]
        ip = sample_ip(i)
        context = ScoringContext(wallet, ticket, price, ip, datetime.now(UTC))
        trip = RoundTrip(client)
        trip.queue(lambda pipe: pipe.mget(cache_keys(wallet, ip)), parse=list)
        realtime.queue_read(context, trip)
        trip.execute()
        limiter.hit(client, PREDICT_ROUTE, ip=ip, user=None, wallet=wallet)
        vector = [float((i + k) % 7) for k in range(len(model.feature_names))]
        score, contributions = model.predict(vector), model.contributions(vector)
        values = (f"f-{run}-{i}", wallet, str(ticket), round(price, 2), round(score, 6), "APPROVED", 0.9,
                  "model", json.dumps(dict(zip(model.feature_names, vector, strict=True))),
                  json.dumps({"n": max(contributions)}), model.version, False, None, 0.5,
                  context.at, score)  # fmt: skip
        with pool.connection() as conn:
            conn.execute(INSERT_SQL, values).fetchone()
        realtime.record_purchase(context, client)

    return one


def handler_request(
    run: str, samples: list[Sample], proxy_event: Callable[..., dict[str, Any]]
) -> Callable[[int], int]:
    """One request through the score Lambda handler (an API Gateway proxy event), returning its status."""
    from functions.score.handler import handler
    from tooling.local.gateway import LocalLambdaContext

    sink = open(os.devnull, "w")  # noqa: SIM115 - the process's lifetime

    def one(i: int) -> int:
        wallet, ticket, price = samples[i % len(samples)]
        body = {
            "transaction_id": f"b-{run}-{i}",
            "wallet_address": wallet,
            "ticket_id": ticket,
            "price_paid": price,
        }
        event = proxy_event(body, sample_ip(i))
        context = LocalLambdaContext("score", event["requestContext"]["requestId"])
        with contextlib.redirect_stdout(sink):  # EMF lines, as Lambda writes them, into /dev/null
            return int(handler(event, context)["statusCode"])

    return one


def core_request(run: str, samples: list[Sample]) -> Callable[[int], None]:
    """One request of the scoring core: `score_transaction` called with a request already validated,
    its response serialized and its metrics flushed, as the handler does; no event, routing, API-key
    check or Powertools decorators. Between the floor and the handler: it says how much of the gap is
    the API layer's and how much the scoring's own."""
    from shared.api.http import json_response
    from shared.api.models import PredictRequest
    from shared.observability import metrics
    from shared.scoring.service import score_transaction

    sink = open(os.devnull, "w")  # noqa: SIM115 - the process's lifetime

    def one(i: int) -> None:
        wallet, ticket, price = samples[i % len(samples)]
        request = PredictRequest.model_validate(
            {
                "transaction_id": f"c-{run}-{i}",
                "wallet_address": wallet,
                "ticket_id": ticket,
                "price_paid": price,
            }
        )
        with contextlib.redirect_stdout(sink):
            decision = score_transaction(request, client_ip=sample_ip(i))
            json_response(200, decision)
            metrics.flush_metrics()

    return one


def timed(
    one: Callable[[int], Any], first: int, count: int
) -> tuple[list[float], float, dict[Any, int], dict[str, float]]:
    """Latencies (ms) of requests first..first+count, the CPU per request (ms) of this process, what
    the requests returned, counted, and the CPU per request (ms) each server spent meanwhile."""
    latencies: list[float] = []
    returned: dict[Any, int] = {}
    servers = servers_cpu_s()
    cpu = time.process_time()
    for i in range(first, first + count):
        started = time.perf_counter()
        result = one(i)
        latencies.append((time.perf_counter() - started) * 1000)
        returned[result] = returned.get(result, 0) + 1
    cpu_ms = (time.process_time() - cpu) * 1000 / count
    after = servers_cpu_s()
    return latencies, cpu_ms, returned, {name: (after[name] - servers[name]) * 1000 / count for name in after}


def interleaved(paths: dict[str, Callable[[int], Any]], requests: int, block: int = 500) -> dict[str, Any]:
    """Each path's requests in alternating blocks (after a warm-up of each): a change of the machine's
    load during the run touches both alike."""
    for one in paths.values():
        timed(one, 10_000_000, 300)  # imports, pool, model, caches
    results: dict[str, Any] = {
        name: {"latencies": [], "cpu": [], "returned": {}, "servers": dict.fromkeys(SERVERS, 0.0)}
        for name in paths
    }
    for start in range(0, requests, block):
        for name, one in paths.items():
            latencies, cpu_ms, returned, servers = timed(one, start, min(block, requests - start))
            results[name]["latencies"] += latencies
            results[name]["cpu"].append(cpu_ms * len(latencies))
            for key, n in returned.items():
                results[name]["returned"][key] = results[name]["returned"].get(key, 0) + n
            for server, ms in servers.items():
                results[name]["servers"][server] += ms * len(latencies)
    for result in results.values():
        result["cpu_ms"] = sum(result["cpu"]) / len(result["latencies"])
        result["servers_ms"] = {
            server: ms / len(result["latencies"]) for server, ms in result["servers"].items()
        }
    return results


def profile(one: Callable[[int], Any], requests: int, top: int) -> str:
    """cProfile over `requests` more requests, timed in CPU time (waiting on PostgreSQL and Redis is not
    this process's cost): the top entries by own time."""
    profiler = cProfile.Profile(time.process_time)
    run = uuid.uuid4().hex[:6]
    profiler.enable()
    for i in range(requests):
        one(20_000_000 + i)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    own = _table(out.getvalue())
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/(shared|functions)/", top)
    ours = _table(out.getvalue())
    return (
        f"profile {run}: {requests} handler requests, top {top} by own CPU time\n{own}\n"
        f"this project's functions by cumulative CPU time\n{ours}"
    )


def _table(printed: str) -> str:
    lines = [line for line in printed.splitlines() if line.strip()]
    start = next((n for n, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(lines[start:])

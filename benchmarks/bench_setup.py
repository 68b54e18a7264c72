"""What bench_api.py and bench_gateway.py both set up: the benchmarks' environment (raised limits) and a
seeded simulated marketplace. Its own module, so that bench_api can run bench_gateway's comparison
without the two importing each other."""

from __future__ import annotations

import os


def benchmark_environment() -> None:
    os.environ.update(
        {
            "TG_RATELIMIT_IP_PER_MINUTE": "100000000",
            "TG_RATELIMIT_USER_PER_MINUTE": "100000000",
            "TG_RATELIMIT_PURCHASE_PER_MINUTE": "100000000",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "ticketguard",
            "TG_ENVIRONMENT": "local",
            # As deployed (Settings requires it there): the pseudonyms' salt from the environment, not
            # the local fallback that finds this machine's salt file on each call.
            "TG_LOG_PII_SALT": "bench-api-salt-0123456789abcdef",
        }
    )
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)


def seed(database_url: str, redis_url: str, transactions_per_day: int) -> list[tuple[str, int, float]]:
    """A simulated marketplace (synthetic chain: fast), the ETL + features + views, and the
    (wallet, ticket, price) triples the requests will use."""
    import psycopg
    import redis

    from shared.jobs.scheduled import run_full
    from tooling.simulator.config import SimulationConfig
    from tooling.simulator.run import simulate

    with psycopg.connect(database_url) as conn:
        result = simulate(
            conn,
            SimulationConfig(seed=11, days=2, transactions_per_day=transactions_per_day, chain="synthetic"),
        )
        conn.commit()
    with psycopg.connect(database_url, autocommit=True) as conn:
        run_full(conn, result.log_source, result.contract_address, redis=redis.Redis.from_url(redis_url))
        rows = conn.execute(
            """SELECT buyer_wallet, ticket_id, price::float8 FROM marketplace.orders
                ORDER BY created_at DESC LIMIT 2000"""
        ).fetchall()
    return [(str(w), int(t), float(p)) for w, t, p in rows]

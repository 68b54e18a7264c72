"""What a cold start of the scoring function imports (issue 29): no X-Ray SDK while tracing is off, no
AWS SDK client, no asynchronous Redis client, no web3 or ML stack; and redis.asyncio, loaded on first
use (shared/imports.py), still works for whoever uses it. `make bench-coldstart` measures the time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEVER_ON_THE_HOT_PATH = (
    "aws_xray_sdk",
    "boto3",
    "botocore.session",
    "botocore.client",
    "redis.asyncio.client",
    "redis.asyncio.connection",
    "web3",
    "numpy",
    "pandas",
    "xgboost",
    "sklearn",
    "yaml",
    "httpx",
    "pydantic_settings",
)


def _fresh(code: str, **env: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter (its last line prints JSON) and return what it printed."""
    environ = {
        k: v for k, v in os.environ.items() if k not in {"LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED"}
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_given_tracing_off_when_the_score_handler_is_imported_then_no_heavy_library_is() -> None:
    # Given a fresh interpreter outside Lambda (tracing off), When it imports the scoring handler
    found = _fresh(
        "import json, sys, functions.score.handler, shared.observability as o\n"
        f"print(json.dumps({{'loaded': [m for m in {NEVER_ON_THE_HOT_PATH!r} if m in sys.modules], "
        "'tracer': type(o.tracer).__name__}))"
    )
    # Then none of them was imported, and the tracer is the one that does nothing
    assert found == {"loaded": [], "tracer": "Untraced"}


def test_given_lambda_with_tracing_when_imported_then_the_tracer_patches_botocore_only() -> None:
    # Given what Powertools takes for Lambda (LAMBDA_TASK_ROOT) with tracing on
    found = _fresh(
        "import json, sys, shared.observability as o\n"
        "print(json.dumps({'tracer': type(o.tracer).__name__, 'xray': 'aws_xray_sdk.core' in sys.modules, "
        "'httpx': 'httpx' in sys.modules}))",
        LAMBDA_TASK_ROOT=str(ROOT),
    )
    # Then the Powertools Tracer is there, with the X-Ray SDK, and nothing else was patched in
    assert found == {"tracer": "Tracer", "xray": True, "httpx": False}


def test_given_redis_asyncio_deferred_when_used_then_it_loads_whichever_way_it_is_imported() -> None:
    # Given shared imported first (redis.asyncio deferred) and the synchronous client in use
    found = _fresh(
        "import json, sys, shared, redis\n"
        "client = redis.Redis.from_url('redis://127.0.0.1:1/0')\n"
        "before = 'redis.asyncio.client' in sys.modules\n"
        "import redis.asyncio.connection as connection\n"
        "from redis.asyncio import Redis\n"
        "print(json.dumps({'before': before, 'attribute': redis.asyncio.Redis is Redis, "
        "'module': Redis.__module__, 'pool': connection.ConnectionPool.__name__}))"
    )
    # Then it was not loaded by the synchronous client, and every form of import reaches the real one
    assert found == {
        "before": False,
        "attribute": True,
        "module": "redis.asyncio.client",
        "pool": "ConnectionPool",
    }

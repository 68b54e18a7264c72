"""The deployed code paths, called as Lambda calls them, in simulated time:

- ingest: the gateway's side of POST /api/v1/events (the body validated against the document's
  schema, queued whole with its batch id: tooling.local.gateway does the same), then the queue
  consumer's handler (functions/ingest/handler.py) with the SQS event the local queue builds
  (tooling.local.queue.sqs_event); a rejected fact stops the run with its reason;
- scoring: functions/score/handler.py with a REST proxy event (shared.api.proxy_event, the local
  gateway's builder) at the purchase's own time: the handler's clock (shared.scoring.service's `now`)
  reads the simulated time, the request's budget the wall clock;
- jobs: functions/<etl|features>/handler.py with the EventBridge scheduled event of the firing (its
  `time` is the simulated firing time); the ETL reads the chain through a view that ends at that time.

The rate limits are off (TG_RATE_LIMIT_ENABLED=false): they count wall-clock seconds (Redis TIME), and
a replay crams days of purchases into minutes.

PostgreSQL stamps the rows ingest writes (updated_at = now()) with the wall clock, which a replay runs
through in minutes for days of simulated time. The daily ETL's repair re-reads the rows stamped in the
last 26 hours of its clock (shared.etl.pipeline.DAILY_REPAIR_WINDOW): on the wall clock that is the whole
replay, every day. `WallLedger` keeps when (wall clock) each simulated moment was posted, so that the ETL's
clock can put its repair window where the deployed job puts it: the rows of the last 26 simulated hours.
"""

from __future__ import annotations

import bisect
import importlib
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg

from shared.api.proxy_event import rest_proxy_event
from shared.api.usage_plans import load_usage_plans
from shared.errors import ConfigurationError
from shared.ingest.consumer import message_attributes, queued_batch
from shared.ingest.validation import IngestBatch
from shared.observability import metrics
from tooling.livepath.timeline import Firing
from tooling.local.gateway import LocalLambdaContext
from tooling.local.queue import Message, sqs_event
from tooling.local.schedules import Job, scheduled_event

Handler = Callable[[dict[str, Any], Any], Any]
BATCH_EVENTS = 500  # facts per POST (tooling.simulator.feed's batch)
MESSAGES_PER_INVOCATION = 10  # the SQS event source's batch size
PREDICT_RESOURCE = "/api/v1/ml/predict/fraud"


def _handler(function: str) -> Handler:
    handler: Handler = importlib.import_module(f"functions.{function}.handler").handler
    return handler


class SimulatedClock:
    """The scoring path's clock: `datetime.now()` of shared.scoring.service reads `value`."""

    def __init__(self) -> None:
        self.value = datetime.fromtimestamp(0, UTC)

    @contextmanager
    def installed(self) -> Iterator[SimulatedClock]:
        import shared.scoring.service as service

        clock = self
        real = service.datetime

        class _Now(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
                return clock.value if tz is None else clock.value.astimezone(tz)

        service.datetime = _Now  # type: ignore[misc]
        try:
            yield self
        finally:
            service.datetime = real  # type: ignore[misc]


class WallLedger:
    """(simulated time, wall clock) of each post, in order: which rows a simulated moment's facts are."""

    def __init__(self) -> None:
        self.simulated: list[float] = []
        self.wall: list[datetime] = []

    def posting(self, at: float) -> None:
        """A post at simulated `at` is about to be stamped (PostgreSQL's now() is this wall clock)."""
        self.simulated.append(at)
        self.wall.append(datetime.now(UTC))

    def wall_since(self, simulated: datetime) -> datetime:
        """The wall clock from which the rows posted at or after `simulated` were stamped (the wall clock
        now when nothing was posted since)."""
        n = bisect.bisect_left(self.simulated, simulated.timestamp())
        return self.wall[n] if n < len(self.wall) else datetime.now(UTC)


@contextmanager
def etl_clock(ledger: WallLedger, clock: SimulatedClock) -> Iterator[None]:
    """The ETL's clock (shared.etl.pipeline's `now`, read for the daily repair window only): the wall
    clock placed so that the window's start is the wall clock of its simulated start, 26 simulated hours
    before the firing. Every row stamped since is re-read, as the deployed job re-reads its last 26 hours."""
    import shared.etl.pipeline as pipeline

    real = pipeline.datetime
    window = pipeline.DAILY_REPAIR_WINDOW

    class _Now(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return ledger.wall_since(clock.value - window) + window

    pipeline.datetime = _Now  # type: ignore[misc]
    try:
        yield
    finally:
        pipeline.datetime = real  # type: ignore[misc]


class CappedChain:
    """A LogSource whose head is the block of the simulated now: the ETL sees the chain as it was."""

    def __init__(self, chain: Any, clock: SimulatedClock, address: str) -> None:
        self.chain = chain
        self.clock = clock
        self.address = address  # the contract, as a node's LogSource names it (shared.etl.pipeline)

    def latest_block(self) -> int:
        head = int(self.chain.latest_block())
        at = int(self.clock.value.timestamp())
        block_for_time = getattr(self.chain, "block_for_time", None)
        if block_for_time is None:
            return head
        # The first block at or after `now` may hold what happens after it: the one before is the head.
        return max(0, min(head, int(block_for_time(at)) - 1))

    def block(self, number: int) -> Any:
        return self.chain.block(number)

    def get_logs(self, from_block: int, to_block: int, address: str) -> Sequence[Any]:
        return self.chain.get_logs(from_block, min(to_block, self.latest_block()), address)


def marketplace_key() -> tuple[str, str]:
    """(key value, key id) of the usage plan the marketplace backend calls with."""
    for plan in load_usage_plans().usage_plans:
        if "predictFraud" in plan.operations and "ingestEvents" in plan.operations:
            key = plan.api_keys[0]
            return key.local_value, key.name
    raise ConfigurationError("no usage plan allows both predictFraud and ingestEvents")


class LivePath:
    """One replay's handlers, clock and counters."""

    def __init__(self, database_url: str, clock: SimulatedClock) -> None:
        self.database_url = database_url
        self.clock = clock
        self.key, self.key_id = marketplace_key()
        self.ingest = _handler("ingest")
        self.score_handler = _handler("score")
        self.jobs: dict[str, Handler] = {name: _handler(name) for name in ("etl", "features")}
        self.counts = {"facts": 0, "posts": 0, "invocations": 0, "scored": 0, "jobs": 0}
        self.seconds = {"ingest": 0.0, "score": 0.0, "jobs": 0.0}
        self.job_seconds: dict[str, float] = {}
        self.ledger = WallLedger()
        self._reader: psycopg.Connection[Any] | None = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _read(self, sql: str, params: Any) -> list[Any]:
        if self._reader is None or self._reader.closed:
            self._reader = psycopg.connect(self.database_url, autocommit=True)
        return self._reader.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ ingest
    def post(self, facts: list[dict[str, Any]], at: float) -> None:
        """The facts, posted at simulated `at` (epoch seconds), as POST /api/v1/events batches, each
        through the consumer; raises on a rejection."""
        if not facts:
            return
        began = time.perf_counter()
        self.ledger.posting(at)
        messages: list[Message] = []
        batch_ids: list[str] = []
        for start in range(0, len(facts), BATCH_EVENTS):
            body = json.dumps({"events": facts[start : start + BATCH_EVENTS]})
            IngestBatch.model_validate_json(body)  # the gateway's request validation
            batch = queued_batch(body, batch_id=str(uuid.uuid4()), api_key_id=self.key_id)
            message_id = str(uuid.uuid4())
            messages.append(
                Message(
                    message_id, batch.body, message_attributes(batch), int(time.time() * 1000), 1, message_id
                )
            )
            batch_ids.append(batch.batch_id)
        for start in range(0, len(messages), MESSAGES_PER_INVOCATION):
            chunk = messages[start : start + MESSAGES_PER_INVOCATION]
            answer = self.ingest(sqs_event(chunk), LocalLambdaContext("ingest", str(uuid.uuid4()), 900))
            metrics.clear_metrics()  # Powertools keeps them when disabled, then prints 100 at once
            if (answer or {}).get("batchItemFailures"):
                raise ConfigurationError(f"the ingest consumer failed a batch: {answer['batchItemFailures']}")
            self.counts["invocations"] += 1
        self._check_outcomes(batch_ids)
        self.counts["facts"] += len(facts)
        self.counts["posts"] += len(batch_ids)
        self.seconds["ingest"] += time.perf_counter() - began

    def _check_outcomes(self, batch_ids: list[str]) -> None:
        rows = self._read(
            "SELECT batch_id, status, rejected, error, results FROM ingest.batches WHERE batch_id = ANY(%s)",
            (batch_ids,),
        )
        if len(rows) != len(batch_ids):
            raise ConfigurationError(f"{len(batch_ids) - len(rows)} ingest batches have no outcome")
        for batch_id, status, rejected, error, results in rows:
            if status != "processed" or rejected:
                refused = [r for r in results if r.get("status") == "rejected"][:3]
                raise ConfigurationError(f"ingest batch {batch_id}: {status}, {error or refused}")

    # ------------------------------------------------------------------ scoring
    def score(self, body: dict[str, Any], at: datetime) -> dict[str, Any]:
        """One POST /api/v1/ml/predict/fraud at `at`; the decision (status 200) or the error body."""
        began = time.perf_counter()
        self.clock.value = at
        event = rest_proxy_event(
            "POST",
            PREDICT_RESOURCE,
            PREDICT_RESOURCE,
            source_ip="10.0.0.10",  # the marketplace backend's own address; the buyer's is in the body
            headers={"x-api-key": self.key, "content-type": "application/json"},
            body=json.dumps(body),
            api_key_id=self.key_id,
        )
        result = self.score_handler(event, LocalLambdaContext("score", str(uuid.uuid4())))
        metrics.clear_metrics()
        answer: dict[str, Any] = json.loads(result.get("body") or "{}")
        answer["status"] = int(result["statusCode"])
        self.counts["scored"] += 1
        self.seconds["score"] += time.perf_counter() - began
        return answer

    # ------------------------------------------------------------------ jobs
    def run_job(self, firing: Firing) -> dict[str, Any]:
        began = time.perf_counter()
        self.clock.value = firing.at
        schedule = firing.schedule
        assert schedule.function is not None
        job = Job(schedule.name, schedule.function, 0.0, dict(schedule.payload or {}))
        request_id = str(uuid.uuid4())
        summary: dict[str, Any] = self.jobs[schedule.function](
            scheduled_event(job, firing.at), LocalLambdaContext(schedule.function, request_id, 900)
        )
        metrics.clear_metrics()
        self.counts["jobs"] += 1
        spent = time.perf_counter() - began
        self.seconds["jobs"] += spent
        self.job_seconds[schedule.name] = self.job_seconds.get(schedule.name, 0.0) + spent
        return summary

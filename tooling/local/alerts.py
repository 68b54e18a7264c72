"""Alerts on the laptop (issue 27): `make run` evaluates the same alarm definitions as CloudWatch
(shared/oncall/alarms.yaml, those marked `local`) over its own metrics, and delivers each state change
to a local sink: printed, and kept as one JSON line in a file (default build/local/alerts.jsonl).

- `LocalMetrics` keeps what the functions add through Powertools Metrics in this process (the EMF output
  is off locally): `install` wraps `metrics.add_metric`.
- `LocalAlarms` evaluates each local definition every tick with shared/oncall/evaluation.py (periods
  divided by `speedup`, so that a 5-minute period can pass in seconds), the composites as "any member in
  ALARM", and on a change runs the alarm's action (shared/oncall/actions.py: a fraud-rate spike tightens
  the REQUIRE_2FA threshold in the local PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.oncall.definitions import AlarmBook, AlarmDefinition, load_alarm_book
from shared.oncall.evaluation import State, state_of

DEFAULT_FILE = Path("build/local/alerts.jsonl")
KEEP_S = 6 * 3600.0


class LocalMetrics:
    """(monotonic time, value) per metric name, for the last KEEP_S seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, deque[tuple[float, float]]] = defaultdict(deque)
        self._lock = threading.Lock()

    def add(self, name: str, value: float) -> None:
        now = self._clock()
        with self._lock:
            series = self._values[name]
            series.append((now, float(value)))
            while series and series[0][0] < now - KEEP_S:
                series.popleft()

    def between(self, name: str, start: float, end: float) -> list[float]:
        with self._lock:
            return [v for t, v in self._values.get(name, ()) if start <= t < end]

    def install(self, metrics: Any) -> None:
        """Record every `metrics.add_metric(name=..., value=...)` of this process here (and nowhere else:
        EMF is off locally)."""

        def add_metric(name: str, unit: Any = None, value: float = 0.0, *args: Any, **kwargs: Any) -> None:
            self.add(name, value)

        metrics.add_metric = add_metric


class LocalSink:
    """Prints each alert and appends it to `path` as one JSON line."""

    def __init__(self, path: Path = DEFAULT_FILE, say: Callable[[str], None] = print) -> None:
        self.path = path
        self._say = say
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def deliver(self, alert: dict[str, Any]) -> None:
        pages = "pages" if alert["pages"] else f"member of {alert['composite']}"
        self._say(
            f"[alert] {alert['state']:5} {alert['alarm']} {alert['severity'].upper()} ({pages}): "
            f"{alert['summary']} -> {alert['action']}; runbook {alert['runbook']}"
        )
        with self._lock, self.path.open("a") as out:
            out.write(json.dumps(alert, default=str) + "\n")


@dataclass
class _Tracked:
    state: State = "OK"


class LocalAlarms:
    def __init__(
        self,
        metrics: LocalMetrics,
        sink: LocalSink,
        *,
        speedup: float = 1.0,
        act: Callable[[str, str, datetime], dict[str, Any]] | None = None,
        book: AlarmBook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.book = book or load_alarm_book()
        self.definitions = self.book.local()
        self._metrics = metrics
        self._sink = sink
        self._speedup = speedup
        self._act = act
        self._clock = clock
        self._states: dict[str, _Tracked] = defaultdict(_Tracked)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def period_s(self, definition: AlarmDefinition) -> float:
        return definition.period_minutes * 60 / self._speedup

    def periods(self, definition: AlarmDefinition, now: float) -> list[Sequence[float]]:
        assert definition.metric is not None
        p, n = self.period_s(definition), definition.evaluation_periods
        return [
            self._metrics.between(definition.metric.name, now - (n - i) * p, now - (n - i - 1) * p)
            for i in range(n)
        ]

    def evaluate(self) -> list[dict[str, Any]]:
        """One tick: every local alarm, then the composites; the alerts of the state changes."""
        now = self._clock()
        alerts = []
        for definition in self.definitions:
            state = state_of(definition, self.periods(definition, now))
            alerts += self._changed(definition.name, state, definition)
        for composite in self.book.composites:
            members = [d.name for d in self.definitions if d.composite == composite.name]
            if members:
                either: State = "ALARM" if any(self._states[m].state == "ALARM" for m in members) else "OK"
                alerts += self._changed(composite.name, either, composite)
        return alerts

    def _changed(self, name: str, state: State, definition: Any) -> list[dict[str, Any]]:
        tracked = self._states[name]
        if tracked.state == state:
            return []
        tracked.state = state
        composite = getattr(definition, "composite", None)
        alert = {
            "alarm": f"ticketguard-local-{name}",
            "state": state,
            "severity": definition.severity,
            "action": definition.action,
            "summary": definition.summary,
            "runbook": definition.runbook_path,
            "composite": composite,
            "pages": composite is None,
            "at": datetime.now(UTC).isoformat(),
        }
        if self._act is not None and isinstance(definition, AlarmDefinition):
            try:
                alert["result"] = self._act(name, state, datetime.now(UTC))
            except Exception as exc:  # an action that fails is reported, the evaluation goes on
                alert["result"] = {"error": str(exc)}
        self._sink.deliver(alert)
        return [alert]

    def state(self, name: str) -> State:
        return self._states[name].state

    def start(self) -> None:
        tick = max(0.2, min(self.period_s(d) for d in self.definitions) / 4)

        def loop() -> None:
            while not self._stop.wait(tick):
                self.evaluate()

        self._thread = threading.Thread(target=loop, name="local-alarms", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

"""Each local invocation's EMF metrics in its own set.

On Lambda a process runs one invocation at a time, and Powertools' `Metrics` keeps the metrics of the
one running in sets shared by the whole process (class attributes). The local runner runs functions in
many threads of one process at once: with those shared sets, one invocation's flush printed another's
metrics and cleared them, and a flush that found its metrics taken meanwhile raised
`SchemaValidationError: Must contain at least one metric` out of the handler (a 502, seen under load in
`make bench-api`). Here the sets are per thread, so each invocation flushes what it added, as on Lambda.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

from aws_lambda_powertools.metrics import Metrics

_SETS = ("metric_set", "dimension_set", "metadata_set")
_lock = threading.Lock()


class ThreadLocalMapping(MutableMapping[str, Any]):
    """A mapping whose contents each thread has to itself."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _data(self) -> dict[str, Any]:
        data: dict[str, Any] | None = getattr(self._local, "data", None)
        if data is None:
            data = self._local.data = {}
        return data

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def clear(self) -> None:
        self._data().clear()


def metrics_per_thread(metrics: Metrics) -> None:
    """Give `metrics` (and its provider) sets of its own per thread; once, whoever calls first."""
    with _lock:
        provider = metrics.provider
        if isinstance(getattr(provider, "metric_set", None), ThreadLocalMapping):
            return
        for name in _SETS:
            per_thread = ThreadLocalMapping()
            setattr(provider, name, per_thread)
            setattr(metrics, name, per_thread)

"""The local runner's functions, run in threads of one process, each flush their own EMF metrics."""

from __future__ import annotations

import json
import threading

import pytest
from aws_lambda_powertools.metrics import Metrics, MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from tooling.local.logkeys import under_own_name
from tooling.local.metricsets import ThreadLocalMapping, metrics_per_thread


def _fresh_metrics() -> Metrics:
    """A Metrics of its own (not the process's shared sets), as the functions' one is set up."""
    provider = AmazonCloudWatchEMFProvider(namespace="TicketGuardTest", service="test")
    return Metrics(namespace="TicketGuardTest", service="test", provider=provider)


def _flushed(out: str) -> list[set[str]]:
    """The metric names of each EMF line printed."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [{m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]} for line in lines]


def test_an_invocation_in_another_thread_keeps_its_metrics_when_this_one_flushes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the functions' metrics with a set per thread
    metrics = _fresh_metrics()
    metrics_per_thread(metrics)
    added, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other_invocation() -> None:
        try:
            metrics.add_metric(name="OtherRequest", unit=MetricUnit.Count, value=1)
            added.set()
            go.wait(10)
            metrics.flush_metrics()
        except BaseException as exc:  # reported to the test's thread
            errors.append(exc)

    # When another thread adds a metric, and this one adds its own and flushes before the other does
    other = threading.Thread(target=other_invocation)
    other.start()
    assert added.wait(10)
    metrics.add_metric(name="ThisRequest", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    first = capsys.readouterr().out
    go.set()
    other.join(10)
    second = capsys.readouterr().out

    # Then each flush printed its own invocation's metric only, and nothing raised
    assert not errors
    assert _flushed(first) == [{"ThisRequest"}]
    assert _flushed(second) == [{"OtherRequest"}]


def test_a_local_function_wrapped_for_the_runner_gets_the_per_thread_sets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the functions' metrics, with the sets Powertools shares across the process
    from tooling.local import logkeys

    metrics = _fresh_metrics()
    monkeypatch.setattr(logkeys, "metrics", metrics)
    assert not isinstance(metrics.provider.metric_set, ThreadLocalMapping)

    # When a handler is wrapped the way the local runner loads every function
    under_own_name(lambda event, context: None)

    # Then its metric sets are per thread
    assert isinstance(metrics.provider.metric_set, ThreadLocalMapping)
    assert isinstance(metrics.provider.dimension_set, ThreadLocalMapping)

"""The metrics catalogue (`shared/observability/metrics_catalogue.yaml`) as the monitoring construct
reads it: which metric of the TicketGuard namespace each dashboard widget plots and each alarm
watches. A widget or alarm asks for a metric by its place (widget title or alarm name); synthesis
stops when the catalogue does not list that metric there, so the dashboard cannot plot a name the
catalogue does not know (tests/infra/test_metrics_catalogue.py checks the other direction, and that
every plotted metric has an emitter in the code). `app_metric`, `catalogued_metrics` and
`cognito_failed_admin_mfa` are how a widget or alarm asks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from infra.assets import PROJECT_ROOT
from shared.names import NAMESPACE, SERVICE

CATALOGUE_PATH = PROJECT_ROOT / "shared" / "observability" / "metrics_catalogue.yaml"
UNITS = frozenset({"Count", "Percent", "Milliseconds", "Seconds", "None"})


@dataclass(frozen=True)
class CataloguedMetric:
    name: str
    unit: str
    dimensions: Mapping[str, str]
    emitters: tuple[str, ...]
    meaning: str
    dashboard: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()
    planned_by: str | None = None

    @property
    def places(self) -> tuple[str, ...]:
        return self.dashboard + self.alarms


@dataclass(frozen=True)
class MetricsCatalogue:
    namespace: str
    dimensions: Mapping[str, str]  # what the functions' EMF metrics carry
    metrics: tuple[CataloguedMetric, ...] = field(default_factory=tuple)

    def on(self, place: str) -> list[CataloguedMetric]:
        """The metrics listed on a widget (title) or alarm (name), in the catalogue's order."""
        found = [metric for metric in self.metrics if place in metric.places]
        if not found:
            raise ValueError(f"the metrics catalogue lists no metric on {place!r}")
        return found

    def entry(self, name: str, place: str, dimensions: Mapping[str, str] | None = None) -> CataloguedMetric:
        """The entry of `name` (with `dimensions`; default the EMF ones) listed on `place`."""
        wanted = dict(self.dimensions if dimensions is None else dimensions)
        for metric in self.metrics:
            if metric.name == name and dict(metric.dimensions) == wanted and place in metric.places:
                return metric
        raise ValueError(
            f"{name} {wanted or '(no dimension)'} is not listed on {place!r} in {CATALOGUE_PATH.name}: "
            "add it there (with its emitter) before plotting or alarming on it"
        )


def _metric(entry: Mapping[str, Any], default_dimensions: Mapping[str, str]) -> CataloguedMetric:
    metric = CataloguedMetric(
        name=entry["name"],
        unit=entry["unit"],
        dimensions=dict(default_dimensions if entry.get("dimensions") is None else entry["dimensions"]),
        emitters=tuple(entry.get("emitters") or ()),
        meaning=entry["meaning"],
        dashboard=tuple(entry.get("dashboard") or ()),
        alarms=tuple(entry.get("alarms") or ()),
        planned_by=entry.get("planned_by"),
    )
    if metric.unit not in UNITS:
        raise ValueError(f"{metric.name}: unit {metric.unit!r} is not one of {sorted(UNITS)}")
    if bool(metric.emitters) == bool(metric.planned_by):
        raise ValueError(f"{metric.name}: give its emitters, or (none yet) who plans to emit it")
    return metric


@lru_cache(maxsize=4)
def load_catalogue(path: Path = CATALOGUE_PATH) -> MetricsCatalogue:
    document = yaml.safe_load(path.read_text())
    dimensions = {"service": SERVICE}  # Powertools Metrics adds it to every EMF metric
    metrics = tuple(_metric(entry, dimensions) for entry in document["metrics"])
    keys = [(metric.name, tuple(sorted(metric.dimensions.items()))) for metric in metrics]
    duplicated = sorted({name for name, dims in keys if keys.count((name, dims)) > 1})
    if duplicated:
        raise ValueError(f"{path.name} lists the same metric twice: {', '.join(duplicated)}")
    return MetricsCatalogue(namespace=NAMESPACE, dimensions=dimensions, metrics=metrics)


def app_metric(
    name: str, statistic: str, period: Duration | None = None, label: str | None = None, *, on: str
) -> cloudwatch.Metric:
    """A metric the functions emit (EMF), for the widget or alarm `on` (the catalogue must list it there)."""
    catalogue = load_catalogue()
    entry = catalogue.entry(name, on)
    return cloudwatch.Metric(
        namespace=catalogue.namespace,
        metric_name=entry.name,
        dimensions_map=dict(entry.dimensions),
        statistic=statistic,
        period=period or Duration.minutes(5),
        label=label,
    )


def catalogued_metrics(
    title: str, statistic: str, period: Duration, *, label_without: str | None = None
) -> list[cloudwatch.Metric]:
    """Every metric the catalogue lists on the widget `title`, in the catalogue's order; each labelled
    with its name less the prefix `label_without`, when given."""
    return [
        app_metric(
            entry.name,
            statistic,
            period,
            label=entry.name.removeprefix(label_without) if label_without else None,
            on=title,
        )
        for entry in load_catalogue().on(title)
    ]


def cognito_failed_admin_mfa(label: str | None = None, *, on: str) -> cloudwatch.Metric:
    """FailedAdminMfa as the Cognito auth-event metric filter publishes it: without the service
    dimension of the functions' EMF metrics (`app_metric`)."""
    catalogue = load_catalogue()
    entry = catalogue.entry("FailedAdminMfa", on, dimensions={})
    return cloudwatch.Metric(
        namespace=catalogue.namespace,
        metric_name=entry.name,
        statistic="Sum",
        period=Duration.minutes(5),
        label=label,
    )

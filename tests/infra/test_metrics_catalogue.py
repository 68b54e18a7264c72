"""The metrics catalogue (shared/observability/metrics_catalogue.yaml) against the two sides it names:
what the synthesized dashboard and alarms show, and what the code emits. The emitters are found by
reading the code (every `add_metric(name=...)`, `record_count(...)` and `MetricFilter(metric_name=...)`
call), not taken from the catalogue's word."""

from __future__ import annotations

import ast
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from infra.assets import PROJECT_ROOT
from infra.metrics_catalogue import app_metric, load_catalogue

pytestmark = pytest.mark.xdist_group("infra")

CATALOGUE = load_catalogue()
EMF = tuple(sorted(CATALOGUE.dimensions.items()))  # the functions' metrics carry the service dimension
NONE: tuple[tuple[str, str], ...] = ()  # a metric filter's carry none
# Plotted or alarmed, emitted by nothing yet: who adds the emitter. The test fails when one of them gets
# an emitter (then take it off this list and give the catalogue its emitter).
KNOWN_MISSING: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
# Named at run time, so that no reading of the code finds them by name.
COMPUTED_NAMES = {"ScoreBucketNN": "ScoreBucket"}
CODE_ROOTS = ("shared", "functions", "infra")

Key = tuple[str, tuple[tuple[str, str], ...]]


def _unit(call: ast.Call) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "unit":
            if isinstance(keyword.value, ast.Attribute):  # MetricUnit.Count
                return "None" if keyword.value.attr == "NoUnit" else keyword.value.attr
            if isinstance(keyword.value, ast.Constant):
                return str(keyword.value.value)
    return None


def _called(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def emitted_metrics() -> dict[Key, set[tuple[str, str | None]]]:
    """(name, dimensions) -> {(module, unit)} for every metric the code of shared/, functions/ and
    infra/ publishes under a name it spells out (directly, or in a module-level table it indexes)."""
    found: dict[Key, set[tuple[str, str | None]]] = defaultdict(set)
    for root in CODE_ROOTS:
        for path in sorted((PROJECT_ROOT / root).rglob("*.py")):
            module = str(path.relative_to(PROJECT_ROOT))
            tree = ast.parse(path.read_text())
            tables = {
                target.id: node.value
                for node in tree.body
                if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict)
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                if isinstance(target, ast.Name)
            }
            for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
                name_arg = {keyword.arg: keyword.value for keyword in call.keywords}
                if _called(call) == "add_metric" and "name" in name_arg:
                    value = name_arg["name"]
                    names: list[Any] = [value]
                    if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
                        table = tables.get(value.value.id)
                        names = list(table.values) if table is not None else []
                    for name in names:
                        if isinstance(name, ast.Constant) and isinstance(name.value, str):
                            found[(name.value, EMF)].add((module, _unit(call)))
                elif _called(call) == "record_count" and call.args and isinstance(call.args[0], ast.Constant):
                    found[(str(call.args[0].value), EMF)].add((module, "Count"))
                elif _called(call) == "MetricFilter" and isinstance(
                    name_arg.get("metric_name"), ast.Constant
                ):
                    metric_name = name_arg["metric_name"]
                    assert isinstance(metric_name, ast.Constant)
                    found[(str(metric_name.value), NONE)].add((module, "Count"))
    return dict(found)


def _dimensions(row: list[Any]) -> tuple[tuple[str, str], ...]:
    pairs = [item for item in row[2:] if isinstance(item, str)]
    return tuple(sorted(zip(pairs[::2], pairs[1::2], strict=True)))


def shown_metrics(synth: Any) -> dict[Key, set[str]]:
    """(name, dimensions) -> the widgets (titles) and alarms (names) that show a metric of the
    TicketGuard namespace in the synthesized templates."""
    shown: dict[Key, set[str]] = defaultdict(set)
    for dashboard in synth.resources("AWS::CloudWatch::Dashboard").values():
        parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
        body = json.loads("".join(part if isinstance(part, str) else "TOKEN" for part in parts))
        for widget in body["widgets"]:
            properties = widget.get("properties", {})
            for row in properties.get("metrics") or []:
                if row[0] == CATALOGUE.namespace:
                    shown[(row[1], _dimensions(row))].add(properties["title"])
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        name = properties["AlarmName"].removeprefix(f"ticketguard-{synth.config.name}-")
        metrics = [
            query["MetricStat"]["Metric"] for query in properties.get("Metrics", []) if "MetricStat" in query
        ]
        if "MetricName" in properties:
            metrics.append(properties)
        for metric in metrics:
            if metric.get("Namespace") == CATALOGUE.namespace:
                dimensions = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
                shown[(metric["MetricName"], dimensions)].add(name)
    return dict(shown)


def _catalogued() -> dict[Key, Any]:
    return {(metric.name, tuple(sorted(metric.dimensions.items()))): metric for metric in CATALOGUE.metrics}


def test_given_the_synthesized_dashboard_and_alarms_then_they_show_exactly_what_the_catalogue_places_there(
    dev_synth,
):
    shown = shown_metrics(dev_synth)
    placed = {key: set(metric.places) for key, metric in _catalogued().items() if metric.places}
    assert shown == placed


def test_given_each_plotted_or_alarmed_metric_when_the_code_is_read_then_it_has_an_emitter_or_is_known_missing(
    dev_synth,
):
    emitted = emitted_metrics()
    shown = shown_metrics(dev_synth)
    without_emitter = {key: places for key, places in shown.items() if key not in emitted}
    assert set(without_emitter) == set(KNOWN_MISSING), (
        "plotted or alarmed, emitted by nothing (no add_metric/record_count/MetricFilter names it): "
        f"{sorted(set(without_emitter) - set(KNOWN_MISSING))}; known missing but now emitted: "
        f"{sorted(set(KNOWN_MISSING) - set(without_emitter))}"
    )
    catalogued = _catalogued()
    for key, planned_by in KNOWN_MISSING.items():
        assert catalogued[key].emitters == () and planned_by in str(catalogued[key].planned_by), key


def test_given_the_code_when_read_then_every_metric_it_emits_is_catalogued_with_its_unit_and_emitters():
    emitted = emitted_metrics()
    catalogued = _catalogued()
    assert set(emitted) - set(catalogued) == set(), "emitted but not in the metrics catalogue"
    for key, metric in catalogued.items():
        if metric.name in COMPUTED_NAMES:
            for module in metric.emitters:
                assert COMPUTED_NAMES[metric.name] in (PROJECT_ROOT / module).read_text(), module
            continue
        found = emitted.get(key, set())
        assert set(metric.emitters) == {module for module, _ in found}, key
        assert {unit for _, unit in found} <= {metric.unit}, key


def test_given_a_metric_the_catalogue_does_not_place_on_a_widget_when_plotted_there_then_synthesis_stops():
    with pytest.raises(ValueError, match=r"ModelPrecision.*not listed on 'Decisions'"):
        app_metric("ModelPrecision", "Average", on="Decisions")
    with pytest.raises(ValueError, match="NotAMetric"):
        app_metric("NotAMetric", "Sum", on="Decisions")


def test_given_the_catalogue_file_then_every_emitter_it_names_exists(tmp_path: Path):
    for metric in CATALOGUE.metrics:
        for module in metric.emitters:
            assert (PROJECT_ROOT / module).is_file(), f"{metric.name}: {module}"
    duplicate = tmp_path / "catalogue.yaml"
    duplicate.write_text("metrics:\n" + "  - {name: X, unit: Count, emitters: [a.py], meaning: m}\n" * 2)
    with pytest.raises(ValueError, match="twice: X"):
        load_catalogue(duplicate)

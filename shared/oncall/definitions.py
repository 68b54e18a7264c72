"""The alarm definitions (shared/oncall/alarms.yaml) as typed models: one definition for the CloudWatch
alarms infra/ makes and for the local stack's evaluator (tooling/local/alerts.py)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

ALARMS_PATH = Path(__file__).with_name("alarms.yaml")
RUNBOOKS_DIR = "docs/runbooks"

Severity = Literal["critical", "high", "medium"]
Action = Literal["page", "tighten-2fa", "scale-scoring", "retrain", "lock-account"]
Comparison = Literal[">", ">=", "<", "<="]
Source = Literal["app", "api", "lambda", "sqs", "rds", "proxy", "redis"]

ACTIONS: dict[str, str] = {
    "page": "page the on-call engineer, who follows the runbook",
    "tighten-2fa": "the REQUIRE_2FA threshold is tightened for a fixed time, then reverts by itself",
    "scale-scoring": "the scoring alias' provisioned concurrency scales on latency (Application Auto Scaling)",
    "retrain": "an emergency retraining starts (the model-operations trigger)",
    "lock-account": "the admin account is locked (SIEM/SOAR)",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricSpec(_Strict):
    source: Source
    name: str
    statistic: str
    functions: tuple[str, ...] | None = None  # lambda: only these (default all deployed)
    except_: tuple[str, ...] = Field((), alias="except")  # lambda: all deployed but these


class AlarmDefinition(_Strict):
    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    component: str
    severity: Severity
    action: Action
    runbook: str
    summary: str
    composite: str | None = None
    defined_in: str | None = None
    local: bool = False
    metric: MetricSpec | None = None
    threshold: float | None = None
    threshold_of_timeout: float | None = Field(None, gt=0, lt=1)
    comparison: Comparison = ">"
    period_minutes: int = Field(5, ge=1, le=1440)
    evaluation_periods: int = Field(1, ge=1)
    datapoints: int | None = Field(None, ge=1)
    # Missing data is no breach, except for a heartbeat: a metric that a healthy job emits every run,
    # whose absence is the failure (a job that fails, or no longer runs).
    missing_data: Literal["not_breaching", "breaching"] = "not_breaching"

    @model_validator(mode="after")
    def _made_somewhere(self) -> AlarmDefinition:
        if (self.metric is None) == (self.defined_in is None) and not (self.local and self.defined_in):
            raise ValueError(f"{self.name}: give either its metric or the module that makes it (defined_in)")
        if self.metric is not None and (self.threshold is None) == (self.threshold_of_timeout is None):
            raise ValueError(f"{self.name}: give a threshold or a threshold_of_timeout")
        if self.local and (self.metric is None or self.metric.source != "app"):
            raise ValueError(f"{self.name}: only alarms on the application's own metrics evaluate locally")
        if (self.datapoints or 1) > self.evaluation_periods:
            raise ValueError(f"{self.name}: datapoints above evaluation_periods")
        # CloudWatch: an alarm's evaluation range is at most one day (periods under an hour).
        if self.period_minutes * self.evaluation_periods > 24 * 60:
            raise ValueError(f"{self.name}: evaluates more than a day of data")
        return self

    @property
    def runbook_path(self) -> str:
        return f"{RUNBOOKS_DIR}/{self.runbook}.md"


class CompositeDefinition(_Strict):
    name: str
    severity: Severity
    action: Action
    runbook: str
    summary: str

    @property
    def runbook_path(self) -> str:
        return f"{RUNBOOKS_DIR}/{self.runbook}.md"


class Slo(_Strict):
    name: str
    summary: str
    objective_percent: float = Field(gt=0, lt=100)
    latency_ms: float | None = None
    runbook: str

    @property
    def budget_percent(self) -> float:
        return round(100.0 - self.objective_percent, 6)

    @property
    def runbook_path(self) -> str:
        return f"{RUNBOOKS_DIR}/{self.runbook}.md"


class BurnWindow(_Strict):
    name: str
    long_minutes: int = Field(ge=1, le=1440)
    short_minutes: int = Field(ge=1, le=1440)
    burn_rate: float = Field(gt=1)
    severity: Severity


class AlarmBook(_Strict):
    composites: tuple[CompositeDefinition, ...]
    alarms: tuple[AlarmDefinition, ...]
    slos: tuple[Slo, ...]
    burn_windows: tuple[BurnWindow, ...]

    @model_validator(mode="after")
    def _consistent(self) -> AlarmBook:
        names = [a.name for a in self.alarms] + [c.name for c in self.composites]
        names += [slo_alarm_name(s, w) for s in self.slos for w in self.burn_windows]
        if len(names) != len(set(names)):
            raise ValueError(f"alarm names twice: {sorted({n for n in names if names.count(n) > 1})}")
        composites = {c.name for c in self.composites}
        for alarm in self.alarms:
            if alarm.composite is not None and alarm.composite not in composites:
                raise ValueError(f"{alarm.name}: no composite {alarm.composite!r}")
        return self

    def alarm(self, name: str) -> AlarmDefinition:
        for alarm in self.alarms:
            if alarm.name == name:
                return alarm
        raise KeyError(
            f"alarm {name!r} is not defined in {ALARMS_PATH.name}: add it there with its severity, "
            "action and runbook (docs/runbooks/)"
        )

    def members(self, composite: str) -> list[AlarmDefinition]:
        return [a for a in self.alarms if a.composite == composite]

    def local(self) -> list[AlarmDefinition]:
        return [a for a in self.alarms if a.local]

    def runbooks(self) -> set[str]:
        return (
            {a.runbook_path for a in self.alarms}
            | {c.runbook_path for c in self.composites}
            | {s.runbook_path for s in self.slos}
        )


def slo_alarm_name(slo: Slo, window: BurnWindow) -> str:
    """The composite that pages for an SLO's burn window (its long and short window alarms are
    `<name>-long` and `<name>-short`)."""
    return f"slo-{slo.name}-{window.name}-burn"


@lru_cache(maxsize=2)
def load_alarm_book(path: Path = ALARMS_PATH) -> AlarmBook:
    return AlarmBook.model_validate(yaml.safe_load(path.read_text()))

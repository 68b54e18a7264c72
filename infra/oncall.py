"""The on-call alarms of issue 27, made from shared/oncall/alarms.yaml: availability and saturation of
every component (API Gateway, each function, RDS, RDS Proxy, ElastiCache, the degraded scoring metrics),
the composite alarms that page once for one outage, and the SLO burn-rate alarms (spec 5.3: 99.9%
availability, p95 < 50 ms) with a fast and a slow window.

CloudWatch's limits these respect (tests/infra/test_oncall.py holds the template to them): a metric-math
alarm references at most 10 metrics; every metric of one alarm shares its period; an alarm evaluates at
most one day of data (periods under an hour); a composite alarm's rule names at most 100 alarms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.alarms import on_call_description, paging_alarm
from infra.aws_metrics import api_metric, lambda_metric, postgres_metric, redis_metric
from infra.metrics_catalogue import load_catalogue
from shared.oncall.definitions import AlarmDefinition, BurnWindow, Slo, load_alarm_book, slo_alarm_name

COMPARISONS = {
    ">": cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    ">=": cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    "<": cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    "<=": cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
}


def proxy_name_parameter(environment: str) -> str:
    return f"/ticketguard/{environment}/rds-proxy-name"


def publish_proxy_name(scope: Construct, environment: str, proxy_name: str) -> ssm.StringParameter:
    """The RDS Proxy's generated name in SSM, for the monitoring stack to name it without an export."""
    return ssm.StringParameter(
        scope,
        "ProxyNameParameter",
        parameter_name=proxy_name_parameter(environment),
        description="TicketGuard RDS Proxy name (the on-call alarms' ProxyName dimension)",
        string_value=proxy_name,
    )


@dataclass(frozen=True)
class Watched:
    """What the alarms watch, by name (see MonitoringStack)."""

    api_name: str
    stage_name: str
    functions: Mapping[str, str]  # catalog name -> deployed name
    timeouts_s: Mapping[str, int]  # catalog name -> timeout
    db_instance: str
    proxy_name: str
    redis_group: str


class OnCallAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        topics: Mapping[str, sns.ITopic],
        watched: Watched,
    ) -> None:
        super().__init__(scope, construct_id)
        self._environment = environment
        self._topics = topics
        self._watched = watched
        self._book = load_alarm_book()
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.composites: dict[str, cloudwatch.CompositeAlarm] = {}
        self._members: dict[str, list[cloudwatch.IAlarm]] = {c.name: [] for c in self._book.composites}
        for definition in self._book.alarms:
            if definition.metric is not None and definition.defined_in is None:
                self._build_definition(definition)
        self._build_composites()
        for slo in self._book.slos:
            for window in self._book.burn_windows:
                self._build_burn_rate(slo, window)

    # ------------------------------------------------------------------ metric alarms
    def _build_definition(self, definition: AlarmDefinition) -> None:
        assert definition.metric is not None
        if definition.metric.source != "lambda":
            self._alarm(definition.name, definition, self._metric(definition), definition.threshold)
            return
        wanted = definition.metric.functions or tuple(self._watched.functions)
        for function in wanted:
            if function in definition.metric.except_ or function not in self._watched.functions:
                continue
            threshold = definition.threshold
            if definition.threshold_of_timeout is not None:
                threshold = round(self._watched.timeouts_s[function] * 1000 * definition.threshold_of_timeout)
            name = (
                definition.name
                if definition.metric.functions
                else f"{function.replace('_', '-')}-{definition.name}"
            )
            metric = lambda_metric(
                self._watched.functions[function],
                definition.metric.name,
                statistic=definition.metric.statistic,
                period=Duration.minutes(definition.period_minutes),
            )
            self._alarm(name, definition, metric, threshold)

    def _alarm(
        self, name: str, definition: AlarmDefinition, metric: cloudwatch.IMetric, threshold: float | None
    ) -> None:
        assert threshold is not None
        paged = definition.composite is None
        alarm = paging_alarm(
            self,
            name,
            environment=self._environment,
            name=name,
            description=definition.summary,
            metric=metric,
            threshold=threshold,
            topic=self._topics[definition.severity] if paged else None,
            comparison=COMPARISONS[definition.comparison],
            evaluation_periods=definition.evaluation_periods,
            datapoints_to_alarm=definition.datapoints,
            definition=definition.name,
        )
        self.alarms[name] = alarm
        if definition.composite is not None:
            self._members[definition.composite].append(alarm)

    def _metric(self, definition: AlarmDefinition) -> cloudwatch.Metric:
        assert definition.metric is not None
        spec, watched = definition.metric, self._watched
        period = Duration.minutes(definition.period_minutes)
        if spec.source == "app":
            catalogued = load_catalogue()
            entry = catalogued.entry(spec.name, definition.name)
            return cloudwatch.Metric(
                namespace=catalogued.namespace,
                metric_name=entry.name,
                dimensions_map=dict(entry.dimensions),
                statistic=spec.statistic,
                period=period,
            )
        if spec.source == "api":
            return api_metric(watched.api_name, watched.stage_name, spec.name, spec.statistic, period)
        if spec.source == "rds":
            return postgres_metric(watched.db_instance, spec.name, spec.statistic, period)
        if spec.source == "redis":
            return redis_metric(watched.redis_group, spec.name, spec.statistic, period)
        if spec.source == "proxy":
            return cloudwatch.Metric(
                namespace="AWS/RDS",
                metric_name=spec.name,
                dimensions_map={"ProxyName": watched.proxy_name},
                statistic=spec.statistic,
                period=period,
            )
        raise ValueError(f"{definition.name}: no metric source {spec.source!r} in infra/oncall.py")

    # ------------------------------------------------------------------ composites
    def _build_composites(self) -> None:
        for composite in self._book.composites:
            members = self._members[composite.name]
            if not members:
                continue
            self._composite(
                composite.name,
                cloudwatch.AlarmRule.any_of(*members),
                description=composite.summary,
                severity=composite.severity,
                action=composite.action,
                runbook_path=composite.runbook_path,
            )

    def _composite(
        self,
        name: str,
        rule: cloudwatch.IAlarmRule,
        *,
        description: str,
        severity: str,
        action: str,
        runbook_path: str,
    ) -> cloudwatch.CompositeAlarm:
        composite = cloudwatch.CompositeAlarm(
            self,
            f"Composite-{name}",
            composite_alarm_name=f"ticketguard-{self._environment}-{name}",
            alarm_description=on_call_description(
                self, description, severity=severity, action=action, runbook_path=runbook_path
            ),
            alarm_rule=rule,
        )
        notify = actions.SnsAction(self._topics[severity])
        composite.add_alarm_action(notify)
        composite.add_ok_action(notify)
        self.composites[name] = composite
        return composite

    # ------------------------------------------------------------------ SLO burn rates
    def _build_burn_rate(self, slo: Slo, window: BurnWindow) -> None:
        name = slo_alarm_name(slo, window)
        members = [
            self._burn_alarm(f"{name}-{length}", slo, window, minutes)
            for length, minutes in (("long", window.long_minutes), ("short", window.short_minutes))
        ]
        self._composite(
            name,
            cloudwatch.AlarmRule.all_of(*members),
            description=f"SLO {slo.name} ({slo.summary}): the error budget burns {window.burn_rate:g}x "
            f"faster than the 30-day budget allows, over {window.long_minutes} and {window.short_minutes} min",
            severity=window.severity,
            action="page",
            runbook_path=slo.runbook_path,
        )

    def _burn_alarm(self, name: str, slo: Slo, window: BurnWindow, minutes: int) -> cloudwatch.Alarm:
        """Burn rate = the window's bad share / the budget's share; alarm above the window's rate."""
        period = Duration.minutes(minutes)
        watched = self._watched
        if slo.latency_ms is None:
            bad = {
                "errors": api_metric(watched.api_name, watched.stage_name, "5XXError", "Sum", period),
                "requests": api_metric(watched.api_name, watched.stage_name, "Count", "Sum", period),
            }
            expression = f"100 * FILL(errors, 0) / IF(requests > 0, requests, 1) / {slo.budget_percent:g}"
        else:
            fast = cloudwatch.Stats.percentile_rank(0, slo.latency_ms)
            bad = {"fast": api_metric(watched.api_name, watched.stage_name, "Latency", fast, period)}
            expression = f"(100 - fast) / {slo.budget_percent:g}"
        alarm = cloudwatch.Alarm(
            self,
            name,
            alarm_name=f"ticketguard-{self._environment}-{name}",
            alarm_description=on_call_description(
                self,
                f"SLO {slo.name}: burn rate over {minutes} min above {window.burn_rate:g} "
                f"(pages through the composite {slo_alarm_name(slo, window)})",
                severity=window.severity,
                action="page",
                runbook_path=slo.runbook_path,
            ),
            metric=cloudwatch.MathExpression(
                expression=expression, using_metrics=bad, period=period, label=f"{slo.name} burn rate"
            ),
            threshold=window.burn_rate,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarms[name] = alarm
        return alarm

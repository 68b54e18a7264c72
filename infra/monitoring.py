"""Alerting and the dashboard (spec 4.1 and 4.2).

Metric contract with the functions: the metrics catalogue (shared/observability/metrics_catalogue.yaml,
read through infra/metrics_catalogue.py) names each metric this construct plots or alarms on, and on
which widget or alarm; asking for a metric the catalogue does not list there stops synthesis. The four
spec alerts:
- Fraud Rate Spike: FraudRate (percent) > 3 for 10 min (2 x 5-min periods)      -> HIGH
- API Latency High: API Gateway Latency p95 > 100 ms for 5 min                   -> MEDIUM
- Model Drift: ModelDriftKL > 0.15                                              -> MEDIUM
and issue 17's: Model detection drop: ModelDetectionDrop > 10 (%, against the served version's baseline)
-> MEDIUM; both start an emergency retraining through EventBridge (infra/retrain.py, `AlarmTrigger`).
- Failed Admin Login: FailedAdminMfa >= 3 in 5 min                              -> CRITICAL
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.alarms import paging_alarm
from infra.aws_metrics import (
    api_metric,
    aws_metric,
    lambda_metric,
    postgres_metric,
    redis_metric,
    waf_blocked_requests,
)
from infra.config import EnvironmentConfig
from infra.metrics_catalogue import app_metric, catalogued_metrics, cognito_failed_admin_mfa
from infra.oncall import OnCallAlarms, Watched
from shared.oncall.definitions import load_alarm_book

SETTLED_CONFUSION = "Confusion matrix, settled 24 h (served version)"
SCORING = "Scoring: latency p95 (ms) / degraded and fail-open decisions"


def latest_logs(
    title: str, log_groups: list[str], fields: str, where: str, limit: int, *, width: int = 8, height: int = 6
) -> cloudwatch.LogQueryWidget:
    """A Logs Insights widget: the latest `limit` lines matching `where`, with @timestamp and `fields`."""
    query = [f"fields @timestamp, {fields}", f"filter {where}", "sort @timestamp desc", f"limit {limit}"]
    return cloudwatch.LogQueryWidget(
        title=title, log_group_names=log_groups, query_lines=query, width=width, height=height
    )


class Monitoring(Construct):
    dashboard: cloudwatch.Dashboard

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        topics: Mapping[str, sns.ITopic],
        api_name: str,
        stage_name: str,
        functions: Mapping[str, str],
        function_log_groups: Mapping[str, str],
        access_log_group: str,
        waf_log_group: str,
        web_acl_name: str,
        db_instance_identifier: str,
        redis_replication_group_id: str,
        dead_letters_queue: str,
        proxy_name: str,
    ) -> None:
        """Everything of the other stacks by name (`functions`: catalog name -> deployed function name;
        the log groups, the jobs' dead-letter queue): a name is no cross-stack export, so the service
        stack stays free to replace what this stack watches."""
        super().__init__(scope, construct_id)
        self._config = config
        self._thresholds = config.alarms
        self._topics = topics
        self._api_name = api_name
        self._stage_name = stage_name
        self._functions = functions
        self._function_log_groups = function_log_groups
        self._access_log_group = access_log_group
        self._waf_log_group = waf_log_group
        self._web_acl_name = web_acl_name
        self._db_instance_identifier = db_instance_identifier
        self._redis_replication_group_id = redis_replication_group_id
        self._dead_letters_queue = dead_letters_queue
        self._latency_p95 = api_metric(api_name, stage_name, "Latency", "p95", Duration.minutes(5))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._build_spec_alarms()
        self._build_operations_alarms()
        self.on_call = self._build_on_call(proxy_name)
        self._build_dashboard()

    def _build_on_call(self, proxy_name: str) -> OnCallAlarms:
        """The on-call alarms (shared/oncall/alarms.yaml) over what this construct watches."""
        config = self._config
        return OnCallAlarms(
            self,
            "OnCall",
            environment=config.name,
            topics=self._topics,
            watched=Watched(
                api_name=self._api_name,
                stage_name=self._stage_name,
                functions=self._functions,
                timeouts_s={name: sizing.timeout_s for name, sizing in config.functions.items()},
                db_instance=self._db_instance_identifier,
                proxy_name=proxy_name,
                redis_group=self._redis_replication_group_id,
            ),
        )

    def _build_dashboard(self) -> None:
        """The dashboard (`self.dashboard`), section by section (spec 4.2)."""
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"ticketguard-{self._config.name}",
            default_interval=Duration.hours(24),
        )
        self._build_kpi_section()
        self._build_fraud_section()
        self._build_traffic_section()
        self._build_model_section()
        self._build_health_section()
        self._build_security_section()

    # Alarms.

    def _alarm(
        self,
        name: str,
        severity: str,
        *,
        alarm_description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        comparison_operator: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    ) -> cloudwatch.Alarm:
        """An alarm that pages the severity's topic (infra/alarms.py). Most fire on one period above
        their threshold (the defaults)."""
        created = paging_alarm(
            self,
            name,
            environment=self._config.name,
            name=name,
            description=alarm_description,
            metric=metric,
            threshold=threshold,
            topic=self._topics[severity],
            comparison=comparison_operator,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
        )
        self.alarms[name] = created
        return created

    def _build_spec_alarms(self) -> None:
        """Spec 4.2's fraud-rate, latency and drift alerts, and issue 17's detection drop."""
        thresholds = self._thresholds
        spike = load_alarm_book().alarm("fraud-rate-spike")
        assert spike.metric is not None and spike.threshold is not None
        minutes = spike.period_minutes * spike.evaluation_periods
        self._alarm(
            "fraud-rate-spike",
            spike.severity,
            # One definition for this alarm and the local stack's (shared/oncall/alarms.yaml).
            alarm_description=f"Fraud rate > {spike.threshold:g}% for {minutes} min (spec 4.2): "
            "REQUIRE_2FA tightens for a fixed time; check the live feed",
            metric=app_metric(
                "FraudRate",
                spike.metric.statistic,
                Duration.minutes(spike.period_minutes),
                on="fraud-rate-spike",
            ),
            threshold=spike.threshold,
            evaluation_periods=spike.evaluation_periods,
            datapoints_to_alarm=spike.datapoints,
        )
        self._alarm(
            "api-latency-high",
            "medium",
            alarm_description=f"API p95 latency > {thresholds.api_latency_p95_ms} ms for 5 min (spec 4.2)",
            metric=self._latency_p95,
            threshold=thresholds.api_latency_p95_ms,
        )
        self._alarm(
            "model-drift",
            "medium",
            alarm_description=f"Feature drift KL > {thresholds.model_drift_kl} (spec 4.2): schedule a retraining",
            metric=app_metric("ModelDriftKL", "Maximum", Duration.hours(1), on="model-drift"),
            threshold=thresholds.model_drift_kl,
        )
        self._alarm(
            "model-detection-drop",
            "medium",
            alarm_description="Fraud detection rate down more than 10% against the served version's baseline "
            "(spec 1.6, settled labels): an emergency retraining starts (model-ops job)",
            metric=app_metric("ModelDetectionDrop", "Maximum", Duration.hours(1), on="model-detection-drop"),
            threshold=10,
        )

    def _build_operations_alarms(self) -> None:
        """The failed-admin-MFA alert (spec 4.2) and the jobs' dead letters."""
        self._alarm(
            "failed-admin-mfa",
            "critical",
            alarm_description=f">= {self._thresholds.failed_admin_mfa} failed admin MFA in 5 min (spec 4.2): lock the account",
            # Two sources: the Cognito auth-event metric filter (no dimension) and any function that
            # records a failed admin MFA (EMF, service dimension).
            metric=cloudwatch.MathExpression(
                expression="FILL(cognito, 0) + FILL(functions, 0)",
                using_metrics={
                    "cognito": cognito_failed_admin_mfa(on="failed-admin-mfa"),
                    "functions": app_metric("FailedAdminMfa", "Sum", on="failed-admin-mfa"),
                },
                label="FailedAdminMfa",
                period=Duration.minutes(5),
            ),
            threshold=self._thresholds.failed_admin_mfa,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
        self._alarm(
            "job-dead-letters",
            "high",
            alarm_description="A scheduled job failed after its retries (message in the jobs dead-letter queue)",
            metric=aws_metric(
                "AWS/SQS",
                {"QueueName": self._dead_letters_queue},
                "ApproximateNumberOfMessagesVisible",
                "Maximum",
                Duration.minutes(5),
            ),
            threshold=0,
        )

    # The dashboard, one section per method.

    def _section(self, title: str, *widgets: cloudwatch.IWidget) -> None:
        """A full-width heading row, then the section's widgets in one row."""
        self.dashboard.add_widgets(cloudwatch.TextWidget(markdown=f"## {title}", width=24, height=1))
        self.dashboard.add_widgets(*widgets)

    def _build_kpi_section(self) -> None:
        self._section(
            "1. Key performance indicators",
            cloudwatch.SingleValueWidget(
                title="Transactions / hour",
                metrics=[
                    app_metric("ScoredTransactions", "Sum", Duration.hours(1), on="Transactions / hour")
                ],
                width=6,
            ),
            cloudwatch.SingleValueWidget(
                title="Fraud rate (%)",
                metrics=[app_metric("FraudRate", "Average", on="Fraud rate (%)")],
                width=6,
            ),
            cloudwatch.SingleValueWidget(title="API latency p95 (ms)", metrics=[self._latency_p95], width=6),
            cloudwatch.SingleValueWidget(
                title="Revenue / hour (USD)",
                metrics=[app_metric("RevenueUsd", "Sum", Duration.hours(1), on="Revenue / hour (USD)")],
                width=6,
            ),
        )

    def _build_fraud_section(self) -> None:
        self._section(
            "2. Real-time fraud detection",
            cloudwatch.GraphWidget(
                title="Fraud score distribution",
                left=[
                    app_metric(
                        "FraudScore", stat, Duration.minutes(5), label=stat, on="Fraud score distribution"
                    )
                    for stat in ("p50", "p90", "p99")
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Decisions",
                left=catalogued_metrics("Decisions", "Sum", Duration.minutes(5), label_without="Decision"),
                stacked=True,
                width=12,
            ),
        )
        score_logs = [
            self._function_log_groups[name] for name in ("score",) if name in self._function_log_groups
        ]
        if score_logs:
            self.dashboard.add_widgets(
                latest_logs(
                    "Recent high-risk transactions",
                    score_logs,
                    "transaction_id, decision, fraud_score, model_version",
                    "decision in ['BLOCKED', 'MANUAL_REVIEW']",
                    50,
                    width=24,
                    height=6,
                )
            )

    def _build_traffic_section(self) -> None:
        self._section(
            "3. API rate limiting and traffic",
            cloudwatch.GraphWidget(
                title="Requests per minute",
                left=[
                    api_metric(self._api_name, self._stage_name, name, "Sum", Duration.minutes(1))
                    for name in ("Count", "4XXError", "5XXError")
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Rate-limit violations",
                left=[
                    app_metric(
                        "RateLimited",
                        "Sum",
                        Duration.minutes(1),
                        label="application limiter",
                        on="Rate-limit violations",
                    ),
                    waf_blocked_requests(
                        self._web_acl_name,
                        self._config.region,
                        "RatePerIp",
                        Duration.minutes(1),
                        label="WAF rate rule",
                    ),
                ],
                width=8,
            ),
            cloudwatch.LogQueryWidget(
                title="Top 5 IPs (last period)",
                log_group_names=[self._access_log_group],
                query_lines=["stats count(*) as requests by ip", "sort requests desc", "limit 5"],
                width=8,
            ),
        )

    def _build_model_section(self) -> None:
        self._section(
            "4. Model performance",
            cloudwatch.GraphWidget(
                title="Confusion matrix (24 h)",
                left=catalogued_metrics(
                    "Confusion matrix (24 h)", "Maximum", Duration.hours(24), label_without="Confusion"
                ),
                view=cloudwatch.GraphWidgetView.BAR,
                width=6,
            ),
            cloudwatch.GraphWidget(
                title=SETTLED_CONFUSION,
                # The served version over the latest 24 hours whose labels have settled (model-ops job).
                left=catalogued_metrics(
                    SETTLED_CONFUSION, "Maximum", Duration.hours(1), label_without="Settled"
                ),
                view=cloudwatch.GraphWidgetView.BAR,
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Feature drift (KL), weekly trend",
                left=[
                    app_metric(
                        "ModelDriftKL", "Maximum", Duration.hours(6), on="Feature drift (KL), weekly trend"
                    )
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=self._thresholds.model_drift_kl, label="retrain")
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Precision / recall (%)",
                # The served version over the latest settled window (the model-ops job, hourly).
                left=catalogued_metrics("Precision / recall (%)", "Average", Duration.hours(1)),
                width=6,
            ),
        )

    def _build_health_section(self) -> None:
        functions = self._functions
        self._section(
            "5. System health",
            cloudwatch.AlarmStatusWidget(
                title="Service status (alarms)", alarms=list(self.alarms.values()), width=6
            ),
            cloudwatch.GraphWidget(
                title=SCORING,
                left=[app_metric("ScoringLatency", "p95", Duration.minutes(5), on=SCORING)],
                right=[
                    app_metric("DegradedScoring", "Sum", on=SCORING),
                    app_metric("FailOpenDecisions", "Sum", on=SCORING),
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Lambda errors / throttles",
                left=[lambda_metric(fn, "Errors", f"{name} errors") for name, fn in functions.items()],
                right=[lambda_metric(fn, "Throttles", f"{name} throttles") for name, fn in functions.items()],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="PostgreSQL",
                left=[
                    postgres_metric(self._db_instance_identifier, name, "Average")
                    for name in ("CPUUtilization", "DatabaseConnections")
                ],
                right=[
                    postgres_metric(self._db_instance_identifier, name, "Minimum")
                    for name in ("FreeableMemory", "FreeStorageSpace")
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Redis",
                left=[
                    redis_metric(self._redis_replication_group_id, name)
                    for name in ("EngineCPUUtilization", "DatabaseMemoryUsagePercentage", "CurrConnections")
                ],
                width=6,
            ),
        )

    def _build_security_section(self) -> None:
        all_function_logs = list(self._function_log_groups.values())
        self._section(
            "6. Security events (SIEM feed)",
            cloudwatch.GraphWidget(
                title="Failed admin MFA / WAF blocks",
                left=[
                    app_metric(
                        "FailedAdminMfa",
                        "Sum",
                        Duration.minutes(5),
                        label="functions",
                        on="Failed admin MFA / WAF blocks",
                    ),
                    cognito_failed_admin_mfa(label="Cognito", on="Failed admin MFA / WAF blocks"),
                ],
                right=[
                    waf_blocked_requests(self._web_acl_name, self._config.region, "ALL", Duration.minutes(5))
                ],
                width=8,
            ),
            latest_logs(
                "Security events by severity",
                all_function_logs or [self._access_log_group],
                "severity, event_type, message",
                "ispresent(event_type) and ispresent(severity)",
                100,
            ),
            latest_logs(
                "WAF blocks (live)",
                [self._waf_log_group],
                "httpRequest.clientIp, terminatingRuleId, httpRequest.uri",
                "action = 'BLOCK'",
                50,
            ),
        )

"""The scoring function's capacity (issue 27, spec 4.2 "auto-scale"): the API invokes the alias `live`
of the scoring function, whose provisioned concurrency Application Auto Scaling scales on the API's p95
latency. Lambda's provisioned concurrency takes target tracking and scheduled scaling (not step
scaling), so the latency alarm's action is a target-tracking policy on the same metric: above the target,
it adds provisioned instances (no cold starts); below it, it removes them, down to `min_capacity` (0 by
default: nothing is provisioned, nor billed, while latency is fine)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.aws_metrics import api_metric
from infra.config import ScoringCapacityConfig

ALIAS = "live"


class ScoringCapacity(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        function_name: str,
        api_name: str,
        stage_name: str,
        capacity: ScoringCapacityConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alias = lambda_.Alias(self, "Live", alias_name=ALIAS, version=function.current_version)
        self.target = appscaling.ScalableTarget(
            self,
            "ProvisionedConcurrency",
            service_namespace=appscaling.ServiceNamespace.LAMBDA,
            resource_id=f"function:{function_name}:{ALIAS}",
            scalable_dimension="lambda:function:ProvisionedConcurrency",
            min_capacity=capacity.min_capacity,
            max_capacity=capacity.max_capacity,
        )
        self.target.node.add_dependency(self.alias)
        policy = self.target.scale_to_track_metric(
            "OnApiLatency",
            target_value=capacity.latency_target_ms,
            custom_metric=api_metric(api_name, stage_name, "Latency", "Average", Duration.minutes(1)),
            scale_out_cooldown=Duration.minutes(1),
            scale_in_cooldown=Duration.minutes(15),
        )
        # The p95 (the SLA's statistic): a customized metric's `Statistic` takes no percentile, its
        # metric-query form (`Metrics`, TargetTrackingMetricStat) does.
        cfn = policy.node.default_child
        assert isinstance(cfn, appscaling.CfnScalingPolicy)
        cfn.add_property_override(
            "TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification",
            {
                "Metrics": [
                    {
                        "Id": "latency",
                        "ReturnData": True,
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/ApiGateway",
                                "MetricName": "Latency",
                                "Dimensions": [
                                    {"Name": "ApiName", "Value": api_name},
                                    {"Name": "Stage", "Value": stage_name},
                                ],
                            },
                            "Stat": "p95",
                        },
                    }
                ]
            },
        )

"""What the cost model reads from the synthesized templates: their resources, the `Line` a priced
charge becomes, and the resource types that cost nothing by themselves (FREE_TYPES, each with its reason).
infra/cost_model.py prices the templates with them; infra/cost_schedules.py counts the scheduled runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Templates = dict[str, dict[str, Any]]  # stack name -> template


@dataclass(frozen=True)
class Line:
    key: str  # one per kind of charge; CUTS says how to cut it
    service: str
    quantity: str  # what was counted, and how
    monthly: float
    types: tuple[str, ...]  # the resource types this line prices


# Resource types that cost nothing by themselves (or whose charge another line counts), and why.
FREE_TYPES: dict[str, str] = {
    "AWS::Lambda::Alias": "free (its provisioned concurrency is priced with the scalable target)",
    "AWS::Lambda::Version": "free (a published version of a priced function)",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "free (Application Auto Scaling has no charge)",
    "AWS::Chatbot::SlackChannelConfiguration": "AWS Chatbot has no charge (SNS delivers to it)",
    "AWS::ApiGateway::Account": "account setting",
    "AWS::ApiGateway::ApiKey": "priced per request (RestApi)",
    "AWS::ApiGateway::Deployment": "priced per request (RestApi)",
    "AWS::ApiGateway::Stage": "priced per request (RestApi)",
    "AWS::ApiGateway::UsagePlan": "priced per request (RestApi)",
    "AWS::ApiGateway::UsagePlanKey": "priced per request (RestApi)",
    "AWS::Cognito::LogDeliveryConfiguration": "the logs are priced with the log groups",
    "AWS::Cognito::UserPoolClient": "priced per user (UserPool)",
    "AWS::EC2::InternetGateway": "free",
    "AWS::KMS::Alias": "free (KMS prices the key, priced with the keys)",
    "AWS::EC2::Route": "free",
    "AWS::EC2::RouteTable": "free",
    "AWS::EC2::SecurityGroup": "free",
    "AWS::EC2::SecurityGroupEgress": "free",
    "AWS::EC2::SecurityGroupIngress": "free",
    "AWS::EC2::Subnet": "free",
    "AWS::EC2::SubnetRouteTableAssociation": "free",
    "AWS::EC2::VPC": "free",
    "AWS::EC2::VPCGatewayAttachment": "free",
    "AWS::ElastiCache::SubnetGroup": "free",
    "AWS::Athena::WorkGroup": "priced per query (per TB scanned): on-call and audit queries, none scheduled",
    "AWS::Events::Rule": "scheduled rules are free; the SIEM's findings (PutEvents, $1 a million) are a few a day",
    "AWS::Glue::Database": "Data Catalog: the first million objects stored are free",
    "AWS::Glue::Table": "Data Catalog: the first million objects stored are free",
    "AWS::IAM::ManagedPolicy": "free",
    "AWS::IAM::Policy": "free",
    "AWS::IAM::Role": "free",
    "AWS::Lambda::EventInvokeConfig": "free",
    "AWS::Lambda::LayerVersion": "storage within the free 75 GB",
    "AWS::Lambda::Permission": "free",
    "AWS::Lambda::EventSourceMapping": "free (its polling requests are SQS requests, priced with the queues)",
    "AWS::Logs::MetricFilter": "its metric is priced with the custom metrics",
    "AWS::Logs::SubscriptionFilter": "free; its deliveries are SIEM function invocations (attack traffic only)",
    "AWS::RDS::DBParameterGroup": "free",
    "AWS::RDS::DBProxyTargetGroup": "priced with the proxy",
    "AWS::RDS::DBSubnetGroup": "free",
    "AWS::S3::BucketPolicy": "free",
    "AWS::SNS::Subscription": "e-mail notifications: the first 1,000 a month are free",
    "AWS::SNS::TopicPolicy": "free",
    "AWS::SSM::Parameter": "a standard parameter: free",
    "AWS::SQS::QueuePolicy": "free",
    "AWS::SecretsManager::ResourcePolicy": "free",
    "AWS::SecretsManager::RotationSchedule": "the rotation function runs monthly: cents",
    "AWS::SecretsManager::SecretTargetAttachment": "free",
    "AWS::Serverless::Application": "the hosted rotation function: one run a month",
    "AWS::WAFv2::IPSet": "free (the rules using it are priced)",
    "AWS::WAFv2::WebACLAssociation": "free",
    "Custom::": "a custom resource: its function runs once per deploy",
}


def resources(templates: Templates, resource_type: str | None = None) -> Iterator[tuple[str, dict, dict]]:
    """(logical id, properties, template) of every resource, or of one type."""
    for template in templates.values():
        for logical_id, resource in template.get("Resources", {}).items():
            if resource_type is None or resource["Type"] == resource_type:
                yield logical_id, resource.get("Properties", {}), template


def resource_types(templates: Templates) -> set[str]:
    return {r["Type"] for t in templates.values() for r in t.get("Resources", {}).values()}


def is_free(resource_type: str) -> bool:
    return resource_type in FREE_TYPES or (resource_type.startswith("Custom::") and "Custom::" in FREE_TYPES)

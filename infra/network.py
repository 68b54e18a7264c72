"""Network: a VPC whose private subnets hold Lambda, RDS and ElastiCache; AWS APIs through endpoints.

Subnet tiers:
- `isolated`: no route to the Internet. RDS, RDS Proxy, ElastiCache and every function but the ETL.
  They reach S3 (gateway endpoint) and Secrets Manager, SSM, CloudWatch Logs/Metrics, SNS, KMS
  (interface endpoints): no NAT needed for them.
- `egress` + `public` (only when `chain_egress`): one NAT gateway, used by the ETL alone, because
  the chain RPC provider is on the Internet and no endpoint can serve it.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.log_groups import encrypted_log_group

INTERFACE_ENDPOINTS = {
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "Ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "Sns": ec2.InterfaceVpcEndpointAwsService.SNS,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
}


def closed_security_group(
    scope: Construct, construct_id: str, *, vpc: ec2.IVpc, description: str
) -> ec2.SecurityGroup:
    """A security group that allows no outbound traffic of its own: each rule is added where its peer
    is known, so every path through the VPC is one that a rule names."""
    return ec2.SecurityGroup(scope, construct_id, vpc=vpc, description=description, allow_all_outbound=False)


class Network(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = self._build_vpc(config, key)
        self.isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.egress = (
            ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
            if config.chain_egress
            else self.isolated
        )
        self._build_endpoints(config)
        # Functions share one security group: the data stores admit it and nothing else.
        self.function_security_group = closed_security_group(
            self, "FunctionSg", vpc=self.vpc, description="TicketGuard Lambda functions"
        )
        # HTTPS out: in isolated subnets the only routes are the VPC endpoints (S3's gateway endpoint
        # serves public S3 addresses, hence no narrower CIDR); in the egress subnets, the chain RPC.
        self.function_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS: VPC endpoints, S3 gateway, chain RPC (ETL)"
        )

    def _build_vpc(self, config: EnvironmentConfig, key: kms.IKey) -> ec2.Vpc:
        """Isolated subnets, plus public and egress ones (one NAT) when the ETL reaches the chain; flow
        logs of rejected traffic."""
        subnets = [
            ec2.SubnetConfiguration(
                name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
            )
        ]
        if config.chain_egress:
            subnets += [
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=26),
                ec2.SubnetConfiguration(
                    name="egress", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
                ),
            ]
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.vpc_cidr),
            availability_zones=list(config.availability_zones),
            nat_gateways=1 if config.chain_egress else 0,
            subnet_configuration=subnets,
            restrict_default_security_group=True,
        )
        # Kept when the stack is deleted (the CDK default this group always had), unlike the others.
        flow_log_group = encrypted_log_group(self, "FlowLogs", key=key, removal_policy=RemovalPolicy.RETAIN)
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        return vpc

    def _build_endpoints(self, config: EnvironmentConfig) -> None:
        """S3's gateway endpoint and the interface endpoints, HTTPS from inside the VPC only."""
        self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.isolated]
        )
        self.endpoint_security_group = closed_security_group(
            self, "EndpointSg", vpc=self.vpc, description="Interface VPC endpoints: HTTPS from inside the VPC"
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(config.vpc_cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        self.endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for name, service in INTERFACE_ENDPOINTS.items():
            self.endpoints[name] = self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=self.isolated,
                private_dns_enabled=True,
                open=False,  # the security group above already admits the VPC CIDR
                security_groups=[self.endpoint_security_group],
            )

    def admit_functions(self, security_group: ec2.SecurityGroup, port: int, destination: str) -> None:
        """Let the functions reach `port` of `security_group`: the target admits the function group, and
        the function group, which allows no outbound traffic of its own, gets the matching egress rule."""
        security_group.add_ingress_rule(
            self.function_security_group, ec2.Port.tcp(port), "from the functions"
        )
        self.function_security_group.add_egress_rule(security_group, ec2.Port.tcp(port), f"to {destination}")

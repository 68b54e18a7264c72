"""What the admin function may touch in AWS (issue 26): every AWS call its routes reach, and no other.

    route (functions/admin)                         reaches                         AWS calls
    POST, DELETE /blocklist (kind ip, challenge)    shared/soar/responses.sync      wafv2:GetIPSet, UpdateIPSet
    POST /actions/{id}/undo (block_ip, challenge)   shared/soar/responses.undo      wafv2:GetIPSet, UpdateIPSet
    POST /actions/{id}/undo (disable_admin)         shared/soar/aws.enable_user     cognito-idp:AdminEnableUser
    GET /models, POST /models/rollback              shared/model/rollout.S3Store    s3 (infra/model_access.py
                                                                                    registry_operator)
    GET /audit/verify                               shared/audit/anchor.SsmAnchor   ssm:GetParameter (the anchor)
    every route                                     shared/config, db, cache        the DB and Redis secrets
                                                                                    (infra/functions.py)

A page cannot be undone and the admin routes lock no one (AdminDisableUser stays the SOAR's); a wallet
entry touches no AWS service (PostgreSQL and the scoring verdict in Redis). WAF and Cognito have no
endpoint in the VPC: the function runs in the egress subnets (infra/functions.py).
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.security import AdminAuth, WebFirewall
from infra.security_ops import (
    audit_anchor_access,
    audit_anchor_parameter,
    effector_environment,
    update_ip_sets,
)
from shared.config import env_name


def grant_admin_routes(
    scope: Construct,
    function: lambda_.Function,
    *,
    config: EnvironmentConfig,
    firewall: WebFirewall,
    admin: AdminAuth,
) -> None:
    """The WAF, Cognito and SSM part of the table above, and the environment that names them (the
    model registry's part: infra/model_access.py, beside the other registry roles)."""
    for name, value in effector_environment(config, firewall, admin).items():
        function.add_environment(name, value)
    function.add_environment(env_name("audit_anchor_parameter"), audit_anchor_parameter(config.name))
    function.add_to_role_policy(update_ip_sets(firewall))
    function.add_to_role_policy(
        iam.PolicyStatement(
            sid="EnableAdmins",  # the undo of the SOAR's disable_admin
            actions=["cognito-idp:AdminEnableUser"],
            resources=[admin.user_pool.user_pool_arn],
        )
    )
    function.add_to_role_policy(
        audit_anchor_access(scope, config.name, "AuditAnchorRead", "ssm:GetParameter")
    )

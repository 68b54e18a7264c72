"""The SOAR's effectors: what an action does outside PostgreSQL and Redis.

- WAF: an IP set holds exactly the live entries of its blocklist kind (`ip` -> the block set the
  web ACL's BlockList rule refuses, `challenge` -> the set its Challenge rule challenges). Setting
  the whole list (UpdateIPSet replaces it) makes a sync idempotent and lets the lift job and an undo
  use the same call. UpdateIPSet needs the set's current LockToken; a concurrent update makes it
  fail with WAFOptimisticLockException, retried with a fresh token.
- SNS: one topic per severity (critical, high, medium), the message a PagerDuty Events v2 payload.
- Cognito: AdminDisableUser / AdminEnableUser on the admin pool.

`AwsEffectors` takes boto3 clients (moto in tests); the local stack passes its own effectors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.errors import ConfigurationError, DependencyUnavailable

WAF_LOCK_RETRIES = 5


class Effectors(Protocol):
    def sync_ip_set(self, kind: str, networks: Sequence[str]) -> dict[str, Any]: ...

    def page(self, severity: str, subject: str, payload: dict[str, Any]) -> dict[str, Any]: ...

    def disable_user(self, username: str) -> dict[str, Any]: ...

    def enable_user(self, username: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class IpSetRef:
    name: str
    id: str
    scope: str = "REGIONAL"
    version: int = 4  # the web ACL's sets are IPv4 (infra/security.py); IPv6 entries: the service's list only


@dataclass
class AwsEffectors:
    wafv2: Any = None
    sns: Any = None
    cognito: Any = None
    ip_sets: dict[str, IpSetRef] = field(default_factory=dict)  # blocklist kind -> its IP set
    topics: dict[str, str] = field(default_factory=dict)  # severity -> topic ARN
    user_pool_id: str | None = None

    def sync_ip_set(self, kind: str, networks: Sequence[str]) -> dict[str, Any]:
        ref = self.ip_sets.get(kind)
        if ref is None or self.wafv2 is None:
            raise ConfigurationError(f"no WAF IP set is configured for the '{kind}' list")
        client = self.wafv2
        networks = [n for n in networks if (":" in n) == (ref.version == 6)]
        for _ in range(WAF_LOCK_RETRIES):
            current = client.get_ip_set(Name=ref.name, Scope=ref.scope, Id=ref.id)
            try:
                client.update_ip_set(
                    Name=ref.name,
                    Scope=ref.scope,
                    Id=ref.id,
                    Addresses=list(networks),
                    LockToken=current["LockToken"],
                )
            except client.exceptions.WAFOptimisticLockException:
                continue
            return {"ip_set": ref.name, "addresses": len(networks)}
        raise DependencyUnavailable(f"WAF IP set {ref.name} kept changing under {WAF_LOCK_RETRIES} updates")

    def page(self, severity: str, subject: str, payload: dict[str, Any]) -> dict[str, Any]:
        topic = self.topics.get(severity.lower()) or self.topics.get("medium")
        if topic is None or self.sns is None:
            raise ConfigurationError(f"no alert topic is configured for severity {severity}")
        reply = self.sns.publish(
            TopicArn=topic,
            Subject=subject[:100],
            Message=json.dumps(payload),
            MessageAttributes={"severity": {"DataType": "String", "StringValue": severity}},
        )
        return {"topic": topic, "message_id": reply["MessageId"]}

    def disable_user(self, username: str) -> dict[str, Any]:
        self.cognito.admin_disable_user(UserPoolId=self._pool(), Username=username)
        return {"user_pool": self.user_pool_id, "user": username, "enabled": False}

    def enable_user(self, username: str) -> dict[str, Any]:
        self.cognito.admin_enable_user(UserPoolId=self._pool(), Username=username)
        return {"user_pool": self.user_pool_id, "user": username, "enabled": True}

    def _pool(self) -> str:
        if self.cognito is None or not self.user_pool_id:
            raise ConfigurationError("no admin user pool is configured (TG_COGNITO_USER_POOL_ID)")
        return self.user_pool_id


def topic_severity(severity: str) -> str:
    """The topic a finding's severity pages on: CRITICAL -> critical, HIGH -> high, else medium."""
    return {"CRITICAL": "critical", "HIGH": "high"}.get(severity, "medium")

"""The SOAR's entry: a finding -> its planned actions -> guardrails -> effects -> every action recorded.

| rule                  | actions                                                          |
| brute_force (an IP)   | block_ip (Settings.soar_block_ttl_s), page                       |
| brute_force (account) | challenge_ip for each clear source IP of the evidence, page      |
| admin_mfa             | disable_admin (Cognito; a marketplace admin: the page asks the   |
|                       | marketplace to lock it), page CRITICAL                           |
| fraud_ring            | blacklist_wallet for each wallet of the evidence, page           |
| ddos                  | challenge_ip for each IP of the evidence, page CRITICAL          |

Each action is claimed in soar.actions once per (finding, action, target) before it takes effect, and
settled after: a retry (EventBridge's, or a rerun after a crash) finds it settled and does nothing, or
still `pending` and completes it (the effects are idempotent: an upsert, a whole-set WAF update, a
page deduplicated by PagerDuty on the finding's dedup key). The finding is `handled` when none of its
actions is left pending or failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
import redis

from shared.config import SecuritySettings
from shared.errors import Conflict, NotFound
from shared.identifiers import canonical_ip
from shared.siem.models import Finding
from shared.siem.store import set_finding_status
from shared.soar import actions as store
from shared.soar import blocklist
from shared.soar.actions import BLOCKLIST_KIND, Action, ActionName
from shared.soar.aws import Effectors, topic_severity
from shared.soar.guardrails import lock_cap, refusal

PD_SEVERITY = {"CRITICAL": "critical", "HIGH": "error", "MEDIUM": "warning", "LOW": "info", "INFO": "info"}


@dataclass
class Plan:
    action: ActionName
    target: str
    reason: str
    expires_at: datetime | None = None


@dataclass
class Response:
    finding_id: int
    actions: list[Action] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for action in self.actions:
            key = f"{action.action}:{action.status}"
            out[key] = out.get(key, 0) + 1
        return out


def _until(ttl_s: int) -> datetime | None:
    return datetime.now(UTC) + timedelta(seconds=ttl_s) if ttl_s > 0 else None


def _clear_ips(values: list[Any]) -> list[str]:
    return sorted({ip for v in values if (ip := canonical_ip(str(v)))})


def plan(finding: Finding, settings: SecuritySettings) -> list[Plan]:
    """The actions a finding calls for (the page last, so that it can say what was done)."""
    why = f"{finding.rule} finding {finding.finding_id} ({finding.subject_kind} {finding.subject})"
    block, challenge = _until(settings.soar_block_ttl_s), _until(settings.soar_challenge_ttl_s)
    plans: list[Plan] = []
    if finding.rule == "brute_force" and finding.subject_kind == "ip":
        plans.append(Plan("block_ip", finding.subject, why, block))
    elif finding.rule in {"brute_force", "ddos"}:
        plans += [
            Plan("challenge_ip", ip, why, challenge) for ip in _clear_ips(finding.evidence.get("ips", []))
        ]
    elif finding.rule == "fraud_ring":
        until = _until(settings.soar_wallet_ttl_s)
        plans += [Plan("blacklist_wallet", w, why, until) for w in finding.evidence.get("wallets", [])]
    elif finding.rule == "admin_mfa":
        plans.append(Plan("disable_admin", finding.subject, why))
    plans.append(Plan("page", topic_severity(finding.severity.value), why))
    return plans


def respond(
    conn: psycopg.Connection[Any],
    finding: Finding,
    effectors: Effectors,
    settings: SecuritySettings,
    cache: redis.Redis | None,
) -> Response:
    """Act on a stored finding (its finding_id set), each action once, within the guardrails."""
    assert finding.finding_id is not None, "a finding is acted on once stored"
    responder = _Responder(conn, effectors, cache, settings)
    response = Response(finding.finding_id)
    for step in plan(finding, settings):
        if step.action == "page":
            step.reason = _page_summary(finding, response.actions)
        action = responder.claimed(finding, step)
        if action.status in {"pending", "failed"}:
            action = responder.effect(finding, action)
        response.actions.append(action)
    if all(a.status not in {"pending", "failed"} for a in response.actions):
        with conn.transaction():
            set_finding_status(conn, finding.finding_id, "handled")
    return response


@dataclass
class _Responder:
    """What acting on a finding needs: the database, the effectors, the blocklist's cache, the settings."""

    conn: psycopg.Connection[Any]
    effectors: Effectors
    cache: redis.Redis | None
    settings: SecuritySettings

    def claimed(self, finding: Finding, step: Plan) -> Action:
        """The step's action, claimed once (or as an earlier run settled it); refused by the guardrails."""
        conn, blocking = self.conn, step.action != "page"
        with conn.transaction():
            if blocking:
                lock_cap(conn)
            action, _ = store.claim(
                conn,
                finding_id=finding.finding_id,
                action=step.action,
                target=step.target,
                reason=step.reason,
                expires_at=step.expires_at,
            )
            if action.status not in {"pending", "failed"}:
                return action  # settled by an earlier run
            refused = refusal(conn, action, self.settings, blocking=blocking)
            if refused is not None:
                return store.settle(conn, action.action_id, refused[0], reason=refused[1])  # type: ignore[arg-type]
        return action

    def effect(self, finding: Finding, action: Action) -> Action:
        """The claimed action taken and settled (done, skipped, or failed with the error)."""
        try:
            details = self._apply(finding, action)
        except Exception as exc:
            with self.conn.transaction():
                store.settle(
                    self.conn, action.action_id, "failed", details={"error": f"{type(exc).__name__}: {exc}"}
                )
            raise
        with self.conn.transaction():
            return store.settle(self.conn, action.action_id, details.pop("status", "done"), details=details)

    def _apply(self, finding: Finding, action: Action) -> dict[str, Any]:
        conn, effectors = self.conn, self.effectors
        kind = BLOCKLIST_KIND.get(action.action)
        if kind is not None:
            with conn.transaction():
                blocklist.add_entry(
                    conn,
                    kind,
                    action.target,
                    reason=action.reason,
                    source="soar",
                    expires_at=action.expires_at,
                    action_id=action.action_id,
                    cache=self.cache,
                )
            return sync(conn, kind, effectors) if kind != "wallet" else {"blocklist": "wallet"}
        if action.action == "disable_admin":
            directory, _, name = action.target.partition(":")
            if directory != "cognito":
                return {
                    "status": "skipped",
                    "note": "a marketplace account: the page asks the marketplace to lock it",
                }
            return effectors.disable_user(name)
        key = self.settings.pagerduty_routing_key
        payload = page_payload(finding, action.reason, key.get_secret_value() if key else "")
        return effectors.page(
            finding.severity.value, f"TicketGuard {finding.rule}: {finding.subject}", payload
        )


def sync(
    conn: psycopg.Connection[Any], kind: Literal["ip", "challenge"] | str, effectors: Effectors
) -> dict[str, Any]:
    """Set the kind's WAF IP set to the live entries of the blocklist."""
    networks = blocklist.live_networks(conn, "ip" if kind == "ip" else "challenge")
    return {"waf": effectors.sync_ip_set(kind, networks)}


def _page_summary(finding: Finding, done: list[Action]) -> str:
    taken = ", ".join(f"{a.action} {a.target}: {a.status}" for a in done) or "no automatic action"
    return (
        f"{finding.rule} on {finding.subject_kind} {finding.subject} ({finding.event_count} events); {taken}"
    )


def page_payload(finding: Finding, summary: str, routing_key: str) -> dict[str, Any]:
    """A PagerDuty Events v2 `trigger` (for an SNS HTTPS subscription to the Events API); the
    finding's dedup key makes a repeated page one incident."""
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": finding.dedup_key,
        "payload": {
            "summary": summary[:1024],
            "source": "ticketguard-siem",
            "severity": PD_SEVERITY[finding.severity.value],
            "timestamp": finding.last_seen.isoformat(),
            "component": "ticketguard",
            "group": "security",
            "class": finding.rule,
            "custom_details": {"finding_id": finding.finding_id, "evidence": finding.evidence},
        },
    }


def lift_expired(conn: psycopg.Connection[Any], effectors: Effectors) -> dict[str, Any]:
    """The lift job: delete the lapsed blocklist entries, mark their actions expired, and set the WAF
    IP sets of the kinds that changed to what is left."""
    with conn.transaction():
        lapsed = blocklist.delete_expired(conn)
        store.mark_expired(conn, [e.action_id for e in lapsed if e.action_id is not None])
    # Both sets every run, changed or not: a deploy that rewrote a set's addresses (CloudFormation holds
    # it empty) is repaired within one run.
    synced = {kind: sync(conn, kind, effectors) for kind in ("ip", "challenge")}
    return {
        "lifted": len(lapsed),
        "by_kind": {k: sum(e.kind == k for e in lapsed) for k in ("ip", "challenge", "wallet")},
        "synced": synced,
    }


def undo(
    conn: psycopg.Connection[Any], action_id: int, actor: str, effectors: Effectors, cache: redis.Redis | None
) -> Action:
    """Undo a done action (an analyst's call; the admin routes): its blocklist entry removed (only
    while it is still this action's) and the WAF set synced, or the admin enabled again. NotFound for
    no such action, Conflict for one that is not done or cannot be taken back (a page)."""
    action = store.get_action(conn, action_id)
    if action is None:
        raise NotFound(f"no action {action_id}")
    if action.action == "page":
        raise Conflict(f"action {action_id} is a page: a page cannot be taken back")
    if action.status != "done":
        raise Conflict(f"action {action_id} is {action.status}; only a done action can be undone")
    kind = BLOCKLIST_KIND.get(action.action)
    if kind is not None:
        with conn.transaction():
            blocklist.remove_entry(conn, kind, action.target, action_id=action_id, cache=cache)
        if kind != "wallet":
            sync(conn, kind, effectors)
    elif action.action == "disable_admin":
        effectors.enable_user(action.target.partition(":")[2])
    with conn.transaction():
        return store.mark_undone(conn, action_id, actor)

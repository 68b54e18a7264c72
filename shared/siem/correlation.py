"""The correlation rules over sliding windows in Redis (spec 4.3, and spec alert 4):

| rule        | counts                                                  | per                     | default    |
| brute_force | failed logins (and non-admin failed MFA)                | account, and IP         | 5 in 5 min |
| admin_mfa   | failed admin MFA challenges                             | admin account           | 3 in 5 min |
| fraud_ring  | BLOCKED model decisions and fraud labels, per purchase  | wallet (the buyer's and | 3 in 24 h  |
|             |                                                         | its transfer counter-   |            |
|             |                                                         | party), IP, instrument  |            |
| ddos        | distinct IPs rate-limited                               | the whole service       | 50 in 60 s |

Thresholds and windows: shared.config.SecuritySettings. Each (rule, subject) is one sorted set
(`tg:{siem}:w:...`, members the events, scored by their time: a replayed event is the same member);
one Lua call per batch adds every event to its windows and answers, for each window that reached
its threshold (ending at one of the batch's events, or at the newest event the window holds), the
evidence in the window. A latch per (rule, subject) (`tg:{siem}:l:...`, the
trigger time, living one window) names the finding: an attack that goes on within the window is one
finding (dedup key `rule:kind:subject:latch`), and a replay of the same events finds the same latch
or, once it lapsed, computes the same trigger time again.

Pseudonymous subjects (`<ip:...>`, from log lines) are counted like clear ones; a fraud ring needs
clear wallets (the database source has them), since its response blacklists them."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from shared.cache import keys
from shared.cache.scripts import LuaScript
from shared.config import SecuritySettings
from shared.siem.models import Finding, SecurityEvent, Severity

EVIDENCE_LIMIT = 100

# KEYS: per group, its window and its latch. ARGV: per group: window (s), threshold, member count,
# then member, score pairs. Returns, per triggered group: its index, latch, count, evidence pairs.
_CORRELATE = LuaScript(
    """
local out = {}
local a = 1
for g = 1, #KEYS / 2 do
  local wkey, lkey = KEYS[2 * g - 1], KEYS[2 * g]
  local window, threshold, n = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  local scores = {}
  for i = 0, n - 1, 500 do
    local chunk = {}
    for j = i, math.min(i + 499, n - 1) do
      local m, s = ARGV[a + 2 * j], ARGV[a + 2 * j + 1]
      chunk[#chunk + 1] = s
      chunk[#chunk + 1] = m
      scores[#scores + 1] = tonumber(s)
    end
    redis.call('ZADD', wkey, 'GT', unpack(chunk))
  end
  a = a + 2 * n
  local top = redis.call('ZREVRANGE', wkey, 0, 0, 'WITHSCORES')
  redis.call('ZREMRANGEBYSCORE', wkey, '-inf', '(' .. (tonumber(top[2]) - 2 * window))
  redis.call('EXPIRE', wkey, 2 * window + 60)
  table.sort(scores)
  scores[#scores + 1] = tonumber(top[2])
  local last = nil
  for _, t in ipairs(scores) do
    if t ~= last then
      last = t
      local c = redis.call('ZCOUNT', wkey, t - window, t)
      if c >= threshold then
        redis.call('SET', lkey, tostring(t), 'NX', 'EX', window)
        local latch = redis.call('GET', lkey)
        local ev = redis.call('ZRANGEBYSCORE', wkey, t - window, t, 'WITHSCORES', 'LIMIT', 0, EVIDENCE_LIMIT)
        out[#out + 1] = {g, latch, c, ev}
        break
      end
    end
  end
end
return out
""".replace("EVIDENCE_LIMIT", str(EVIDENCE_LIMIT))
)


@dataclass(frozen=True)
class RuleSpec:
    name: str
    window_s: int
    threshold: int
    severity: Severity


def rules(settings: SecuritySettings) -> dict[str, RuleSpec]:
    return {
        "brute_force": RuleSpec(
            "brute_force",
            settings.siem_brute_force_window_s,
            settings.siem_brute_force_failures,
            Severity.HIGH,
        ),
        "admin_mfa": RuleSpec(
            "admin_mfa", settings.siem_admin_mfa_window_s, settings.siem_admin_mfa_failures, Severity.CRITICAL
        ),
        "fraud_ring": RuleSpec(
            "fraud_ring", settings.siem_fraud_ring_window_s, settings.siem_fraud_ring_events, Severity.HIGH
        ),
        "ddos": RuleSpec("ddos", settings.siem_ddos_window_s, settings.siem_ddos_ips, Severity.CRITICAL),
    }


Group = tuple[str, str, str]  # rule, subject kind, subject


def memberships(event: SecurityEvent) -> Iterable[tuple[Group, str]]:
    """The windows an event counts in, and the member it is there (its identity in that window)."""
    if event.kind == "login_failed" or (event.kind == "mfa_failed" and not event.is_admin):
        if event.ip:
            yield ("brute_force", "ip", event.ip), f"{event.event_id}|{event.account or ''}"
        if event.account:
            yield ("brute_force", "account", event.account), f"{event.event_id}|{event.ip or ''}"
    elif event.kind == "mfa_failed" and event.account:
        yield ("admin_mfa", "admin", event.account), f"{event.event_id}|{event.ip or ''}"
    elif event.kind == "rate_limited" and event.ip:
        yield ("ddos", "ips", "all"), event.ip
    elif event.kind in {"fraud_decision", "fraud_label"} and (event.wallet or "").startswith("0x"):
        purchase = f"{event.details.get('transaction_id')}|{event.wallet}"
        yield ("fraud_ring", "wallet", str(event.wallet)), purchase
        for other in event.details.get("counterparties") or ():
            yield ("fraud_ring", "wallet", str(other)), purchase
        if event.ip:
            yield ("fraud_ring", "ip", event.ip), purchase
        if event.details.get("payment_instrument"):
            yield ("fraud_ring", "instrument", str(event.details["payment_instrument"])), purchase


@dataclass
class Correlation:
    findings: list[Finding] = field(default_factory=list)
    windows: int = 0
    round_trips: int = 0


def correlate(
    client: redis.Redis, events: Iterable[SecurityEvent], settings: SecuritySettings
) -> Correlation:
    """Add the events to their windows (one script call) and return the findings the batch triggered."""
    specs = rules(settings)
    groups: dict[Group, dict[str, float]] = defaultdict(dict)
    for event in events:
        epoch = event.epoch
        for group, member in memberships(event):
            members = groups[group]
            if members.get(member, -1.0) < epoch:
                members[member] = epoch
    result = Correlation(windows=len(groups))
    if not groups:
        return result
    ordered = list(groups.items())
    script_keys: list[str] = []
    args: list[Any] = []
    for (rule, kind, subject), members in ordered:
        name = f"{rule}:{kind}:{subject}"
        script_keys += [keys.SIEM_WINDOW.key(name), keys.SIEM_LATCH.key(name)]
        args += [specs[rule].window_s, specs[rule].threshold, len(members)]
        for member, score in members.items():
            args += [member, repr(score)]
    replies = _CORRELATE.run(client, script_keys, args)
    result.round_trips = 1
    for index, latch, count, evidence in replies:
        group = ordered[int(index) - 1][0]
        result.findings.append(_finding(specs[group[0]], group, _text(latch), int(count), evidence))
    return result


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _finding(spec: RuleSpec, group: Group, latch: str, count: int, evidence: list[Any]) -> Finding:
    rule, kind, subject = group
    pairs = [(_text(evidence[i]), float(evidence[i + 1])) for i in range(0, len(evidence), 2)]
    times = [score for _, score in pairs]
    members = [member for member, _ in pairs]
    latch_at = int(float(latch))
    detail: dict[str, Any] = {"window_s": spec.window_s, "threshold": spec.threshold, "count": count}
    if rule == "ddos":
        detail["ips"] = members
    elif rule == "fraud_ring":
        detail["transactions"] = sorted({m.split("|", 1)[0] for m in members})
        detail["wallets"] = sorted({m.split("|", 1)[1] for m in members})
    else:
        detail["event_ids"] = [m.split("|", 1)[0] for m in members]
        others = sorted({m.split("|", 1)[1] for m in members if m.split("|", 1)[1]})
        detail["accounts" if kind == "ip" else "ips"] = others
    return Finding(
        dedup_key=f"{rule}:{kind}:{subject}:{latch_at}",
        rule=rule,
        severity=spec.severity,
        subject_kind=kind,
        subject=subject,
        first_seen=datetime.fromtimestamp(min(times), UTC),
        last_seen=datetime.fromtimestamp(max(times), UTC),
        event_count=count,
        evidence=json.loads(json.dumps(detail)),
    )

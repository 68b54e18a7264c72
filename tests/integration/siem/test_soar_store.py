"""The SOAR's stores on the real PostgreSQL and Redis: the blocklist (add, list, remove, is_blocked,
expiry, cache invalidation), the findings (stored once per dedup key) and the actions (once per
finding, action and target)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis

from shared.cache import keys
from shared.errors import ValidationFailed
from shared.siem.models import Finding, Severity
from shared.siem.store import get_finding, list_findings, store_finding
from shared.soar import actions, blocklist

WALLET = "0x" + "ab" * 20
NOW = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)


def _finding(key: str = "brute_force:ip:203.0.113.7:1") -> Finding:
    return Finding(
        dedup_key=key,
        rule="brute_force",
        severity=Severity.HIGH,
        subject_kind="ip",
        subject="203.0.113.7",
        first_seen=NOW,
        last_seen=NOW + timedelta(minutes=2),
        event_count=5,
        evidence={"event_ids": ["a", "b", "c", "d", "e"]},
    )


def test_a_wallet_entry_is_added_found_listed_and_removed(
    db: psycopg.Connection, redis_client: redis.Redis
) -> None:
    # Given a cached "not blocked" verdict for the wallet (what the scoring lookup wrote 10 s ago)
    redis_client.setex(keys.BLOCKLIST_WALLET.key(WALLET), 30, "0")
    # When the wallet is added, in mixed case (EIP-55 checksummed addresses are accepted)
    entry = blocklist.add_entry(db, "wallet", WALLET, reason="fraud ring", source="soar", cache=redis_client)
    # Then it is stored lowercase, found, listed, and the cached verdict says blocked at once
    assert entry.value == WALLET
    assert blocklist.is_blocked(db, "wallet", WALLET) is not None
    assert [e.value for e in blocklist.list_entries(db, "wallet")] == [WALLET]
    assert redis_client.get(keys.BLOCKLIST_WALLET.key(WALLET)) == b"1"
    # When it is removed, Then nothing blocks it and the cached verdict is gone
    removed = blocklist.remove_entry(db, "wallet", WALLET, cache=redis_client)
    assert removed is not None and removed.reason == "fraud ring"
    assert blocklist.is_blocked(db, "wallet", WALLET) is None
    assert redis_client.get(keys.BLOCKLIST_WALLET.key(WALLET)) is None
    assert blocklist.remove_entry(db, "wallet", WALLET) is None


def test_an_ip_network_covers_its_addresses_until_it_expires(db: psycopg.Connection) -> None:
    # Given a /24 blocked for an hour and a challenge on one address that lapsed a minute ago
    blocklist.add_entry(
        db,
        "ip",
        "198.51.100.0/24",
        reason="ddos",
        source="soar",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    blocklist.add_entry(
        db,
        "challenge",
        "::ffff:192.0.2.9",
        reason="ddos",
        source="soar",
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    # Then an address inside the /24 is blocked; the challenge (stored as the IPv4 address) has lapsed
    hit = blocklist.is_blocked(db, "ip", "198.51.100.77")
    assert hit is not None and hit.value == "198.51.100.0/24"
    assert blocklist.is_blocked(db, "challenge", "192.0.2.9") is None
    assert blocklist.live_networks(db, "challenge") == []
    assert [e.value for e in blocklist.list_entries(db, "challenge", include_expired=True)] == [
        "192.0.2.9/32"
    ]
    # When the lapsed entries are deleted, Then only the lapsed one goes
    assert [e.value for e in blocklist.delete_expired(db)] == ["192.0.2.9/32"]
    assert blocklist.live_networks(db, "ip") == ["198.51.100.0/24"]


def test_renewing_an_entry_keeps_the_later_expiry(db: psycopg.Connection) -> None:
    soon, later = datetime.now(UTC) + timedelta(minutes=5), datetime.now(UTC) + timedelta(hours=2)
    blocklist.add_entry(db, "ip", "203.0.113.7", reason="first", source="soar", expires_at=later)
    renewed = blocklist.add_entry(db, "ip", "203.0.113.7", reason="second", source="soar", expires_at=soon)
    assert renewed.expires_at == later and renewed.reason == "second"
    permanent = blocklist.add_entry(db, "ip", "203.0.113.7", reason="analyst", source="analyst")
    assert permanent.expires_at is None


@pytest.mark.parametrize(
    ("kind", "value"),
    [("wallet", "0x123"), ("ip", "not-an-ip"), ("domain", "example.com"), ("ip", "1.2.3.4\n")],
)
def test_a_malformed_entry_is_refused_with_the_field_named(
    db: psycopg.Connection, kind: str, value: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        blocklist.add_entry(db, kind, value, reason="x", source="analyst")
    assert refused.value.field in {"kind", "value"}


def test_a_finding_is_stored_once_per_dedup_key(db: psycopg.Connection) -> None:
    first, created = store_finding(db, _finding())
    again, created_again = store_finding(db, _finding())
    assert created and not created_again
    assert again.finding_id == first.finding_id
    assert [f.finding_id for f in list_findings(db, rule="brute_force")] == [first.finding_id]
    assert list_findings(db, rule="ddos") == []
    stored = get_finding(db, first.finding_id or 0)
    assert stored is not None and stored.evidence["event_ids"][0] == "a"


def test_an_action_is_recorded_once_per_finding_and_undone_with_its_own_entry_only(
    db: psycopg.Connection,
) -> None:
    finding, _ = store_finding(db, _finding())
    assert finding.finding_id is not None
    # Given the SOAR claims the block twice for one finding (an EventBridge retry)
    action, created = actions.claim(
        db, finding_id=finding.finding_id, action="block_ip", target="203.0.113.7/32", reason="brute force"
    )
    again, created_again = actions.claim(
        db, finding_id=finding.finding_id, action="block_ip", target="203.0.113.7/32", reason="brute force"
    )
    # Then one action exists
    assert created and not created_again and again.action_id == action.action_id
    blocklist.add_entry(
        db, "ip", "203.0.113.7", reason="brute force", source="soar", action_id=action.action_id
    )
    actions.settle(db, action.action_id, "done", details={"waf": "updated"})
    assert actions.automatic_blocks_since(db, datetime.now(UTC) - timedelta(hours=1)) == 1
    # When an analyst has since replaced the entry with their own, removing the action's entry leaves theirs
    blocklist.add_entry(db, "ip", "203.0.113.7", reason="analyst says so", source="analyst")
    assert blocklist.remove_entry(db, "ip", "203.0.113.7", action_id=action.action_id) is None
    undone = actions.mark_undone(db, action.action_id, "analyst@example.org")
    assert undone.status == "undone" and undone.undone_by == "analyst@example.org"
    assert [a.action_id for a in actions.list_actions(db, finding_id=finding.finding_id)] == [
        action.action_id
    ]
    assert blocklist.is_blocked(db, "ip", "203.0.113.7") is not None

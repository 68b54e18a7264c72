"""The service's blocklist (intel.blocklist), one table for three kinds of entry:

- `wallet`:    the scoring lookup answers BLOCKED (reason `blocklist_wallet`) for the wallet;
- `ip`:        BLOCKED (`blocklist_ip`) for a purchase from the address or network, and the gateway
               (the WAF block IP set, locally the local gateway) answers 403;
- `challenge`: the gateway answers with a challenge (WAF CAPTCHA/Challenge rule; locally 403 with the
               `challenge` response type).

IP entries are networks in one canonical form (shared.identifiers.canonical_ip_entry, a trigger
repeats it in SQL). An entry may expire (`expires_at`); a lapsed entry matches nothing and the lift job
(`shared.soar.responses.lift_expired`) deletes it and resynchronizes the WAF IP sets.

The scoring lookup caches verdicts in Redis for `keys.BLOCKLIST_CACHE_TTL_S`; `add_entry` and
`remove_entry` take the Redis client to invalidate them, so that the next score sees the change (one
SETEX or DEL, outside the scoring path's round trips).

Used by the SOAR responses and the admin routes (add, list, remove, is_blocked).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any, Literal

import psycopg
import redis
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict

from shared.cache import keys
from shared.errors import ValidationFailed
from shared.identifiers import canonical_ip_entry, canonical_wallet

Kind = Literal["wallet", "ip", "challenge"]
KINDS: tuple[Kind, ...] = ("wallet", "ip", "challenge")
_COLUMNS = "kind, value, reason, source, created_at, expires_at, action_id"
_LIVE = "(expires_at IS NULL OR expires_at > now())"


class BlockEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    value: str
    reason: str
    source: str
    created_at: datetime
    expires_at: datetime | None = None
    action_id: int | None = None


def canonical_value(kind: str, value: str) -> str:
    """The stored form of `value` for `kind`; ValidationFailed (a 400) when it is not one."""
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    try:
        return canonical_wallet(value) if kind == "wallet" else canonical_ip_entry(value)
    except (ValueError, TypeError) as exc:
        what = "a wallet address" if kind == "wallet" else "an IP address or network"
        raise ValidationFailed(f"value must be {what}: {exc}", field="value") from exc


def add_entry(
    conn: psycopg.Connection[Any],
    kind: str,
    value: str,
    *,
    reason: str,
    source: str,
    expires_at: datetime | None = None,
    action_id: int | None = None,
    cache: redis.Redis | None = None,
) -> BlockEntry:
    """Add (or renew) an entry: an entry already there takes the new reason, source and action, and
    the later of the two expiries (None = never; a lapsed entry takes the new one). Invalidates the
    scoring cache's verdict."""
    stored = canonical_value(kind, value)
    if not reason.strip() or not source.strip():
        raise ValidationFailed("reason and source must not be empty", field="reason")
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"""INSERT INTO intel.blocklist AS b (kind, value, reason, source, expires_at, action_id)
                VALUES (%s, %s, %s, %s, %s, %s)
                ON CONFLICT (kind, value) DO UPDATE SET
                    reason = EXCLUDED.reason, source = EXCLUDED.source, action_id = EXCLUDED.action_id,
                    created_at = CASE WHEN b.expires_at <= now() THEN now() ELSE b.created_at END,
                    expires_at = CASE WHEN b.expires_at IS NULL OR EXCLUDED.expires_at IS NULL THEN NULL
                                      WHEN b.expires_at > now() THEN greatest(b.expires_at, EXCLUDED.expires_at)
                                      ELSE EXCLUDED.expires_at END
                RETURNING {_COLUMNS}""",
            (kind, stored, reason, source, expires_at, action_id),
        )
        .fetchone()
    )
    assert row is not None
    _invalidate(cache, kind, stored, blocked=True)
    return BlockEntry.model_validate(row)


def remove_entry(
    conn: psycopg.Connection[Any],
    kind: str,
    value: str,
    *,
    action_id: int | None = None,
    cache: redis.Redis | None = None,
) -> BlockEntry | None:
    """Remove an entry (with `action_id`: only while it is that action's own entry, so undoing an
    action leaves a later analyst's entry alone). Returns the removed entry, None when there was none."""
    stored = canonical_value(kind, value)
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"""DELETE FROM intel.blocklist WHERE kind = %s AND value = %s
                   AND (%s::bigint IS NULL OR action_id = %s) RETURNING {_COLUMNS}""",
            (kind, stored, action_id, action_id),
        )
        .fetchone()
    )
    if row is None:
        return None
    _invalidate(cache, kind, stored, blocked=False)
    return BlockEntry.model_validate(row)


def list_entries(
    conn: psycopg.Connection[Any],
    kind: str | None = None,
    *,
    include_expired: bool = False,
    limit: int = 1000,
) -> list[BlockEntry]:
    """Entries, newest first (all kinds when `kind` is None); lapsed ones only with `include_expired`."""
    if kind is not None and kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"""SELECT {_COLUMNS} FROM intel.blocklist
                 WHERE (%s::text IS NULL OR kind = %s) AND (%s OR {_LIVE})
                 ORDER BY created_at DESC, value LIMIT %s""",
            (kind, kind, include_expired, limit),
        )
        .fetchall()
    )
    return [BlockEntry.model_validate(row) for row in rows]


def is_blocked(conn: psycopg.Connection[Any], kind: str, value: str) -> BlockEntry | None:
    """The live entry that covers `value` (an address is covered by a network that contains it), or None."""
    if kind == "wallet":
        match, param = "value = %s", canonical_value(kind, value)
    else:
        canonical_value(kind, value)  # refuses what is not an address or network
        match, param = "value::cidr >>= %s::cidr", canonical_ip_entry(value)
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_COLUMNS} FROM intel.blocklist WHERE kind = %s AND {match} AND {_LIVE}"
            " ORDER BY masklen(value::cidr) DESC LIMIT 1"
            if kind != "wallet"
            else f"SELECT {_COLUMNS} FROM intel.blocklist WHERE kind = %s AND {match} AND {_LIVE}",
            (kind, param),
        )
        .fetchone()
    )
    return None if row is None else BlockEntry.model_validate(row)


def live_networks(conn: psycopg.Connection[Any], kind: Literal["ip", "challenge"]) -> list[str]:
    """The live entries of an IP kind, as the WAF IP set and the local gateway hold them."""
    rows = conn.execute(
        f"SELECT value FROM intel.blocklist WHERE kind = %s AND {_LIVE} ORDER BY value", (kind,)
    ).fetchall()
    return [row[0] for row in rows]


def delete_expired(conn: psycopg.Connection[Any]) -> list[BlockEntry]:
    """Delete the lapsed entries; returns them (the lift job records each against its action)."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(f"DELETE FROM intel.blocklist WHERE expires_at <= now() RETURNING {_COLUMNS}")
        .fetchall()
    )
    return [BlockEntry.model_validate(row) for row in rows]


def _cache_key(kind: str, stored: str) -> str | None:
    """The scoring lookup's cache key for an entry, when the entry is one key's worth (a wallet, a
    single address); a wider network's cached verdicts lapse within BLOCKLIST_CACHE_TTL_S."""
    if kind == "wallet":
        return keys.BLOCKLIST_WALLET.key(stored)
    if kind != "ip":
        return None
    network = ipaddress.ip_network(stored)
    if network.num_addresses == 1:
        return keys.BLOCKLIST_IP.key(network.network_address.compressed)
    return None


def _invalidate(cache: redis.Redis | None, kind: str, stored: str, *, blocked: bool) -> None:
    key = _cache_key(kind, stored)
    if cache is None or key is None:
        return
    try:
        if blocked:
            cache.setex(key, keys.BLOCKLIST_CACHE_TTL_S, "1")
        else:
            cache.delete(key)
    except (redis.RedisError, OSError):
        # The cached verdict then lapses by its TTL (30 s): the entry itself is stored.
        return

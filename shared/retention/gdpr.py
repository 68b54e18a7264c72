"""GDPR requests for one user: erasure (art. 17) and access (art. 15). The CLI calls these; the admin
surface (behind MFA, later) will call the same functions. No HTTP route exposes them.

Erasure, in one PostgreSQL transaction (Redis is purged inside it, before the commit, so a failure
anywhere leaves the request to be repeated, never half done):
- PostgreSQL: the user's personal fields are pseudonymized in place (email, name, IPs, user agents,
  payment instruments, geolocation, the raw facts in ingest.events); the rows stay, so orders,
  labels and fraud history keep their meaning. Wallet addresses are public on-chain identifiers,
  kept like the chain itself (spec 2.1: on-chain data permanent).
- Redis: the keys naming the user's wallets, IPs or id (feature hashes, velocity, location, lookups).
- Archive: crypto-shredded (shared/retention/shred.py): the user's keys are deleted.
- retention.erasures records it (a repeated request answers `already_erased`), intel.audit_log
  audits every request, with counts only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from shared.audit.log import AuditEntry, record
from shared.cache import keys as cache_keys
from shared.errors import NotFound
from shared.retention import codec
from shared.retention.keyring import Keyring, keyring_from_settings
from shared.retention.policy import ARCHIVED
from shared.retention.shred import key_id_of, keys_by_id, shred
from shared.retention.store import Stores

ERASED = "erased"
NO_IP = "0.0.0.0"  # noqa: S104 (an address that names no one, not a bind)
# ingest.events payload fields that hold personal data, and what replaces them.
INGEST_PERSONAL = {
    "email": ERASED,
    "display_name": ERASED,
    "payment_instrument": ERASED,
    "user_agent": ERASED,
    "ip": NO_IP,
    "buyer_ip": NO_IP,
}

# (table, the user's rows, SET clause): every personal field TicketGuard holds in PostgreSQL.
PSEUDONYMIZE: tuple[tuple[str, str, str], ...] = (
    (
        "marketplace.users",
        "user_id = %(user)s",
        "email = 'erased-' || user_id || '@erased.invalid', display_name = 'erased', country = 'ZZ'",
    ),
    ("intel.users", "user_id = %(user)s", "email_hash = 'erased', country = 'ZZ'"),
    (
        "marketplace.orders",
        "buyer_user_id = %(user)s",
        "payment_instrument = 'erased', client_ip = '0.0.0.0'",
    ),
    (
        "intel.transactions",
        "user_id = %(user)s",
        "payment_instrument = 'erased', client_ip = '0.0.0.0', geo_country = NULL, geo_lat = NULL, geo_lon = NULL",
    ),
    ("marketplace.sessions", "user_id = %(user)s", "ip = '0.0.0.0', user_agent = 'erased'"),
    (
        "intel.sessions",
        "user_id = %(user)s",
        "ip = '0.0.0.0', user_agent_hash = 'erased', geo_country = NULL",
    ),
    (
        "marketplace.login_attempts",
        "user_id = %(user)s OR lower(email) = ANY(%(emails)s)",
        "email = 'erased', ip = '0.0.0.0'",
    ),
    (
        "intel.login_attempts",
        "user_id = %(user)s OR email_hash = ANY(%(email_hashes)s)",
        "email_hash = 'erased', ip = '0.0.0.0', geo_country = NULL",
    ),
    ("intel.fraud_predictions", "wallet_address = ANY(%(wallets)s)", "client_ip_hash = NULL"),
    (
        "ingest.events",
        "data->>'user_id' = ANY(%(user_texts)s) OR data->>'buyer_user_id' = ANY(%(user_texts)s) "
        "OR lower(data->>'email') = ANY(%(emails)s)",
        "data = data || (SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb) "
        "FROM jsonb_each_text(%(ingest_personal)s::jsonb) AS p(k, v) WHERE data ? k)",
    ),
)


def _identity(conn: psycopg.Connection, user_id: int) -> dict[str, Any] | None:
    """The user's identifiers (for the search), or None when TicketGuard never heard of the user."""
    cur = conn.cursor(row_factory=dict_row)
    found = cur.execute(
        """SELECT (SELECT lower(email) FROM marketplace.users WHERE user_id = %(u)s) AS email,
                  (SELECT email_hash FROM intel.users WHERE user_id = %(u)s) AS email_hash,
                  EXISTS (SELECT 1 FROM marketplace.users WHERE user_id = %(u)s)
                  OR EXISTS (SELECT 1 FROM intel.users WHERE user_id = %(u)s) AS known,
                  ARRAY(SELECT address FROM marketplace.wallets WHERE user_id = %(u)s
                        UNION SELECT address FROM intel.wallets WHERE user_id = %(u)s) AS wallets,
                  ARRAY(SELECT DISTINCT host(ip) FROM (
                        SELECT client_ip AS ip FROM marketplace.orders WHERE buyer_user_id = %(u)s
                        UNION ALL SELECT client_ip FROM intel.transactions WHERE user_id = %(u)s
                        UNION ALL SELECT ip FROM marketplace.sessions WHERE user_id = %(u)s
                        UNION ALL SELECT ip FROM intel.sessions WHERE user_id = %(u)s
                        UNION ALL SELECT ip FROM marketplace.login_attempts WHERE user_id = %(u)s) s) AS ips""",
        {"u": user_id},
    ).fetchone()
    return found if found and found["known"] else None


def ledger_ids(conn: psycopg.Connection, user_id: int) -> list[str]:
    """The user's ids as the ingest ledger holds them (the facts as sent): the integer, and any text
    id of the marketplace's that ingest gave this integer (ingest.external_ids)."""
    texts = [
        row[0]
        for row in conn.execute(
            "SELECT external_id FROM ingest.external_ids WHERE kind = 'user' AND internal_id = %s", (user_id,)
        )
    ]
    return [str(user_id), *texts]


def subjects_of(user_id: int, wallets: Iterable[str]) -> list[str]:
    return [f"user:{user_id}", *(f"wallet:{w}" for w in wallets)]


def redis_keys(user_id: int, wallets: Iterable[str], ips: Iterable[str]) -> list[str]:
    by_wallet = (
        cache_keys.FEATURE_WALLET,
        cache_keys.VELOCITY,
        cache_keys.FIRST_PURCHASE,
        cache_keys.WALLET_USER,
        cache_keys.BLOCKLIST_WALLET,
    )
    names = [space.key(w) for space in by_wallet for w in wallets]
    names += [cache_keys.LOCATION.key(user_id)] + [cache_keys.BLOCKLIST_IP.key(ip) for ip in ips]
    return sorted(set(names))


def _audit(conn: psycopg.Connection, actor: str, action: str, user_id: int, details: dict[str, Any]) -> None:
    record(conn, AuditEntry(actor=actor, action=action, target=f"user:{user_id}", details=details))


def erase(conn: psycopg.Connection, redis: Any, user_id: int, *, actor: str) -> dict[str, Any]:
    """Erase the user's personal data everywhere TicketGuard holds it; idempotent."""
    done = conn.execute("SELECT erased_at FROM retention.erasures WHERE user_id = %s", (user_id,)).fetchone()
    if done is not None:
        _audit(conn, actor, "gdpr.erase", user_id, {"already_erased": True})
        conn.commit()
        return {"user_id": user_id, "status": "already_erased", "erased_at": done[0].isoformat()}
    identity = _identity(conn, user_id)
    if identity is None:
        conn.rollback()
        raise NotFound(f"unknown user {user_id}: no such user in marketplace.users or intel.users")
    emails = [identity["email"]] if identity["email"] else []
    params = {
        "user": user_id,
        "user_texts": ledger_ids(conn, user_id),
        "emails": emails,
        "email_hashes": [identity["email_hash"]] if identity["email_hash"] else [],
        "wallets": identity["wallets"],
        "ingest_personal": Jsonb(INGEST_PERSONAL),
    }
    try:
        rows: dict[str, int] = {}
        for table, where, assignments in PSEUDONYMIZE:
            rows[table] = conn.execute(f"UPDATE {table} SET {assignments} WHERE {where}", params).rowcount
        shredded = shred(conn, subjects_of(user_id, identity["wallets"]))
        names = redis_keys(user_id, identity["wallets"], identity["ips"])
        removed = int(redis.delete(*names)) if names and redis is not None else 0
        summary = {
            "rows_pseudonymized": rows,
            "archive_keys_shredded": len(shredded),
            "redis_keys_deleted": removed,
        }
        conn.execute(
            "INSERT INTO retention.erasures (user_id, summary) VALUES (%s, %s)",
            (user_id, Jsonb(summary)),
        )
        _audit(conn, actor, "gdpr.erase", user_id, summary)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return {"user_id": user_id, "status": "erased", **summary}


_EXPORT: tuple[tuple[str, str], ...] = (
    ("marketplace.users", "user_id = %(user)s"),
    ("marketplace.wallets", "user_id = %(user)s"),
    ("marketplace.orders", "buyer_user_id = %(user)s"),
    ("intel.transactions", "user_id = %(user)s"),
    ("marketplace.sessions", "user_id = %(user)s"),
    ("marketplace.login_attempts", "user_id = %(user)s"),
    ("intel.fraud_predictions", "wallet_address = ANY(%(wallets)s)"),
    (
        "ingest.events",
        "data->>'user_id' = ANY(%(user_texts)s) OR data->>'buyer_user_id' = ANY(%(user_texts)s)",
    ),
)


def export(
    conn: psycopg.Connection, stores: Stores, user_id: int, *, keyring: Keyring | None = None
) -> dict[str, Any]:
    """Everything TicketGuard holds on the user: PostgreSQL rows, and archived rows decrypted with the
    user's keys (none after an erasure), unwrapped with the master key (`keyring`, default: from the
    environment)."""
    identity = _identity(conn, user_id)
    if identity is None:
        raise NotFound(f"unknown user {user_id}: no such user in marketplace.users or intel.users")
    params = {"user": user_id, "user_texts": ledger_ids(conn, user_id), "wallets": identity["wallets"]}
    cur = conn.cursor(row_factory=dict_row)
    hot = {
        table: [
            {k: codec.plain(v) for k, v in row.items()}
            for row in cur.execute(f"SELECT * FROM {table} WHERE {where}", params)
        ]
        for table, where in _EXPORT
    }
    erased = conn.execute(
        "SELECT erased_at FROM retention.erasures WHERE user_id = %s", (user_id,)
    ).fetchone()
    key_rows = conn.execute(
        "SELECT key_id::text FROM retention.subject_keys WHERE subject = ANY(%s)",
        (subjects_of(user_id, identity["wallets"]),),
    ).fetchall()
    conn.commit()
    ours = {row[0] for row in key_rows}
    return {
        "user_id": user_id,
        "erased_at": erased[0].isoformat() if erased else None,
        "postgresql": hot,
        "archive": _archived(conn, stores, keyring or keyring_from_settings(), ours) if ours else {},
    }


def _archived(
    conn: psycopg.Connection, stores: Stores, keyring: Keyring, ours: set[str]
) -> dict[str, list[dict[str, Any]]]:
    keys = keys_by_id(conn, keyring, ours)
    conn.commit()
    found: dict[str, list[dict[str, Any]]] = {}
    for policy in ARCHIVED:
        if not policy.personal:
            continue
        store = stores.of(policy.data_type.bucket)
        for manifest_key in store.keys(policy.manifest_prefix):
            manifest = json.loads(store.get(manifest_key))
            if not ours & set(manifest["key_ids"]):
                continue
            for row in codec.parse(store.get(manifest["object_key"])):
                fields = [c for c in policy.personal if key_id_of(row.get(c)) in ours]
                if fields:
                    found.setdefault(policy.table, []).append(
                        {**row, **{c: keys.decrypt(f"{policy.table}.{c}", row[c]) for c in fields}}
                    )
    return found

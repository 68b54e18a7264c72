"""The rows of the bulk path (tooling.simulator.run writes them with COPY): one generator per table,
in the column order of `run.TABLES`. Kept apart from the writing so each table's row shape reads on
its own; the ingest path tells the same rows as events (tooling.simulator.facts)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from shared.chain.evm import MINT_BATCH_MAX
from tooling.simulator.world import World

Rows = Iterable[tuple[Any, ...]]


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def table_rows(
    world: World,
    label_rows: list[tuple[str, bool, str, float]],
    mint_hashes: dict[int, list[str]],
    organizer: str,
) -> list[tuple[str, Rows]]:
    """Every table with its rows, parents before children (the foreign keys need it). The rows are
    lazy, so each table streams into COPY; the order is also the order of `sim.runs.counts`."""
    return [
        ("marketplace.users", _users(world)),
        ("marketplace.wallets", _wallets(world)),
        ("marketplace.events", _events(world)),
        ("marketplace.tickets", _tickets(world, mint_hashes, organizer)),
        ("marketplace.orders", _orders(world)),
        ("marketplace.sessions", _sessions(world)),
        ("marketplace.login_attempts", _logins(world)),
        (
            "intel.fraud_labels",
            ((tid, is_fraud, source, _ts(at), _ts(at)) for tid, is_fraud, source, at in label_rows),
        ),
        ("sim.truth", ((o.transaction_id, o.scenario) for o in world.orders)),
        ("sim.user_kinds", ((u.user_id, u.kind) for u in world.users)),
    ]


def _users(world: World) -> Rows:
    return (
        (
            u.user_id,
            u.email,
            u.email.split("@")[0].replace(".", " ").title()[:40],
            u.country,
            {"admin": 3, "bot": 0, "fraudster": 0}.get(u.kind, 1 + u.user_id % 2),
            _ts(u.created_at),
            _ts(u.created_at),
        )
        for u in world.users
    )


def _wallets(world: World) -> Rows:
    return (
        (address, u.user_id, _ts(u.created_at), _ts(u.created_at))
        for u in world.users
        for address in u.wallets
    )


def _events(world: World) -> Rows:
    return (
        (
            e.event_id,
            *meta,
            e.capacity,
            e.face_value,
            _ts(e.sale_starts_at),
            _ts(e.show_at),
            _ts(e.created_at),
            _ts(e.created_at),
        )
        for e, meta in zip(world.events, world.event_meta, strict=True)
    )


def _tickets(world: World, mint_hashes: dict[int, list[str]], organizer: str) -> Iterator[tuple[Any, ...]]:
    """Every seat of every event, held by its last buyer or still by the organizer."""
    for e in world.events:
        hashes = mint_hashes.get(e.event_id, [])
        minted_at = _ts(e.created_at + 60)
        for i in range(e.capacity):
            ticket_id = e.first_ticket_id + i
            yield (
                ticket_id,
                e.event_id,
                f"{'ABCDEFGH'[i // 1000 % 8]}{i // 8000 + 1}-R{i // 25 % 40 + 1}-{i % 25 + 1}",
                e.face_value,
                world.owner.get(ticket_id, organizer),
                minted_at,
                hashes[i // MINT_BATCH_MAX] if hashes else None,
                _ts(world.held_since.get(ticket_id, e.created_at + 60)),
            )


def _orders(world: World) -> Rows:
    return (
        (
            o.order_id,
            o.transaction_id,
            o.ticket_id,
            o.event_id,
            o.user.user_id,
            o.wallet,
            o.seller_wallet,
            "primary" if o.seller_wallet is None else "resale",
            o.price,
            o.fee,
            "USD",
            o.payment_type,
            o.instrument,
            o.ip,
            o.status,
            o.chain_tx_hash,
            _ts(o.created_at),
            _ts(o.updated_at),
        )
        for o in world.orders
    )


def _sessions(world: World) -> Rows:
    return (
        (sid, uid, ip, agent, _ts(started), None if ended is None else _ts(ended), _ts(ended or started))
        for sid, uid, ip, agent, started, ended in world.sessions
    )


def _logins(world: World) -> Rows:
    return (
        # Numbered in time order, as the backend's sequence would have.
        (n, uid, email, ip, ok, reason, admin, _ts(at), _ts(at))
        for n, (_, uid, email, ip, ok, reason, admin, at) in enumerate(
            sorted(world.logins, key=lambda r: (r[7], r[0])), start=1
        )
    )

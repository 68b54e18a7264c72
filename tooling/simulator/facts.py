"""The simulated marketplace as the facts its backend would send to POST /api/v1/events: the same
rows the bulk path writes into `marketplace.*` and `intel.fraud_labels`, told as events in the order
they happened (parents before children at the same instant), each with a stable event id.

`make run` feeds these through the ingest API (tooling.simulator.feed); the bulk path (COPY, in
tooling.simulator.run) stays for benchmarks and training sets, where the point is volume.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tooling.simulator.records import Event
from tooling.simulator.world import World

# At one instant, parents first: a wallet's user, a ticket's event, an order's ticket and wallet.
_RANK = {
    "user.created": 0,
    "wallet.linked": 1,
    "event.listed": 2,
    "ticket.minted": 3,
    "ticket.transferred": 4,
    "session.started": 5,
    "login.attempted": 6,
    "order.paid": 7,
    "order.failed": 7,
    "order.refunded": 8,
    "chargeback.filed": 9,
    "fraud.confirmed": 9,
    "fraud.false_positive": 9,
}
# Public for the live path's timeline (tooling.livepath.timeline), which orders its ties the same way.
FACT_RANK = _RANK
_ORDER_FACT = {"completed": "order.paid", "charged_back": "order.paid", "refunded": "order.paid"}


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _fact(
    event_id: str, event_type: str, at: float, data: dict[str, Any]
) -> tuple[float, int, dict[str, Any]]:
    return (
        at,
        _RANK[event_type],
        {"event_id": event_id, "type": event_type, "occurred_at": _at(at), "data": data},
    )


def marketplace_facts(
    world: World,
    label_rows: list[tuple[str, bool, str, float]],
    organizer: str,
    mint_hashes: dict[int, list[str]],
) -> list[dict[str, Any]]:
    """Every fact of the simulated window: the nouns first (users, wallets, events, tickets), then what
    happened to them, each part oldest first. The simulator dates a few logins of an account before
    the account (the same email typed earlier); a backend knows its users before it reports on them."""
    facts = sorted(
        _facts(world, label_rows, organizer, mint_hashes),
        key=lambda item: (item[1] > _RANK["ticket.minted"], item[0], item[1]),
    )
    return [fact for _, _, fact in facts]


def _facts(
    world: World,
    label_rows: list[tuple[str, bool, str, float]],
    organizer: str,
    mint_hashes: dict[int, list[str]],
) -> Iterator[tuple[float, int, dict[str, Any]]]:
    """The facts part by part. The order of the parts matters: `marketplace_facts` sorts stably,
    so facts that tie on its key (noun or not, time, rank) keep the order they are yielded in here."""
    yield from _people(world)
    yield from _events_and_tickets(world, organizer, mint_hashes)
    yield from _orders(world)
    yield from _sessions(world)
    yield from _logins(world)
    yield from _labels(label_rows)


def _people(world: World) -> Iterator[tuple[float, int, dict[str, Any]]]:
    """Each user, followed by the wallets linked to it (same instant as the account)."""
    for u in world.users:
        yield _fact(
            f"sim-user-{u.user_id}",
            "user.created",
            u.created_at,
            {
                "user_id": u.user_id,
                "email": u.email,
                "display_name": u.email.split("@")[0].replace(".", " ").title()[:40],
                "country": u.country,
                "kyc_level": {"admin": 3, "bot": 0, "fraudster": 0}.get(u.kind, 1 + u.user_id % 2),
                "created_at": _at(u.created_at),
            },
        )
        for address in u.wallets:
            yield _fact(
                f"sim-wallet-{address}",
                "wallet.linked",
                u.created_at,
                {"address": address, "user_id": u.user_id},
            )


def _events_and_tickets(
    world: World, organizer: str, mint_hashes: dict[int, list[str]]
) -> Iterator[tuple[float, int, dict[str, Any]]]:
    """Each event, followed by its tickets (a ticket's event comes first)."""
    for e, (name, venue, city, country, category) in zip(world.events, world.event_meta, strict=True):
        yield _fact(
            f"sim-event-{e.event_id}",
            "event.listed",
            e.created_at,
            {
                "event_id": e.event_id,
                "name": name,
                "venue": venue,
                "city": city,
                "country": country,
                "category": category,
                "capacity": e.capacity,
                "face_value": str(e.face_value),
                "sale_starts_at": _at(e.sale_starts_at),
                "starts_at": _at(e.show_at),
            },
        )
        yield from _tickets(world, e, organizer, mint_hashes.get(e.event_id, []))


def _tickets(
    world: World, e: Event, organizer: str, hashes: list[str]
) -> Iterator[tuple[float, int, dict[str, Any]]]:
    """One event's tickets: each minted to the organizer a minute after the event was listed, then
    moved to its current holder if someone bought it."""
    # Kept a local import, as it was before the split: importing this module does not load the chain.
    from shared.chain.evm import MINT_BATCH_MAX

    for i in range(e.capacity):
        ticket_id = e.first_ticket_id + i
        yield _fact(
            f"sim-ticket-{ticket_id}",
            "ticket.minted",
            e.created_at + 60,
            {
                "ticket_id": ticket_id,
                "event_id": e.event_id,
                "seat": f"{'ABCDEFGH'[i // 1000 % 8]}{i // 8000 + 1}-R{i // 25 % 40 + 1}-{i % 25 + 1}",
                "face_value": str(e.face_value),
                "owner_wallet": organizer,
                "mint_tx_hash": hashes[i // MINT_BATCH_MAX] if hashes else None,
            },
        )
        owner = world.owner.get(ticket_id, organizer)
        if owner != organizer:
            yield _fact(
                f"sim-owner-{ticket_id}",
                "ticket.transferred",
                world.held_since.get(ticket_id, e.created_at + 60),
                {"ticket_id": ticket_id, "from_wallet": organizer, "to_wallet": owner},
            )


def _sessions(world: World) -> Iterator[tuple[float, int, dict[str, Any]]]:
    for sid, uid, ip, agent, started, ended in world.sessions:
        data = {
            "session_id": sid,
            "user_id": uid,
            "ip": ip,
            "user_agent": agent,
            "started_at": _at(started),
            "ended_at": None if ended is None else _at(ended),
        }
        yield _fact(f"sim-session-{sid}", "session.started", started, data)


def _logins(world: World) -> Iterator[tuple[float, int, dict[str, Any]]]:
    # Numbered in time order, as the backend's sequence would have (the bulk path numbers them alike).
    logins = sorted(world.logins, key=lambda r: (r[7], r[0]))
    for n, (_, uid, email, ip, ok, reason, admin, at) in enumerate(logins, start=1):
        mfa = "failed" if reason == "bad_mfa" else "passed" if admin and ok else "not_required"
        data = {
            "attempt_id": n,
            "user_id": uid,
            "email": email,
            "ip": ip,
            "success": ok,
            "failure_reason": reason,
            "is_admin": admin,
            "mfa": mfa,
        }
        yield _fact(f"sim-login-{n}", "login.attempted", at, data)


def _labels(label_rows: list[tuple[str, bool, str, float]]) -> Iterator[tuple[float, int, dict[str, Any]]]:
    """A chargeback is filed by the card network; the other labels are a reviewer's verdict."""
    for transaction_id, is_fraud, source, labelled_at in label_rows:
        if source == "chargeback":
            yield _fact(
                f"sim-label-{transaction_id}",
                "chargeback.filed",
                labelled_at,
                {"transaction_id": transaction_id},
            )
        else:
            kind = "fraud.confirmed" if is_fraud else "fraud.false_positive"
            data = {"transaction_id": transaction_id, "source": source}
            yield _fact(f"sim-label-{transaction_id}", kind, labelled_at, data)


def _orders(world: World) -> Iterator[tuple[float, int, dict[str, Any]]]:
    for o in world.orders:
        data = {
            "order_id": o.order_id,
            "transaction_id": o.transaction_id,
            "ticket_id": o.ticket_id,
            "event_id": o.event_id,
            "buyer_user_id": o.user.user_id,
            "buyer_wallet": o.wallet,
            "seller_wallet": o.seller_wallet,
            "kind": "primary" if o.seller_wallet is None else "resale",
            "price": str(o.price),
            "fee": str(o.fee),
            "currency": "USD",
            "payment_type": o.payment_type,
            "payment_instrument": o.instrument,
            "buyer_ip": o.ip,
            "created_at": _at(o.created_at),
        }
        yield _fact(f"sim-order-{o.order_id}", _ORDER_FACT.get(o.status, "order.failed"), o.created_at, data)
        if o.status == "refunded":
            yield _fact(f"sim-refund-{o.order_id}", "order.refunded", o.updated_at, data)

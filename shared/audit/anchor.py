"""The audit chain's head, anchored outside the database.

The chain (shared/audit/log.py) proves that no row inside it was changed, removed or slipped in, but
its head lives in the same database (intel.audit_chain): someone who can bypass the table's guards can
delete the last rows and set the head back to the row before them, and the shortened chain verifies.
So the head is also written where the database's powers do not reach: an SSM parameter
(`TG_AUDIT_ANCHOR_PARAMETER`, `/ticketguard/<env>/audit/chain-head`), written by the SIEM's poll every
minute (shared/siem/entry.py) and read by `ticketguard audit verify` and the admin route. The parameter
keeps its last 100 values (SSM's history), each with its time.

An anchor (seq, hash) holds when the chain still has that row with that hash, and its head is at or past
it. A chain that no longer reaches the anchored row was cut at its end; one whose row at that seq has
another hash was rewritten. When the anchor does not hold, the writer leaves it as it is (the evidence
stays) and reports it; it advances the anchor only from a chain that holds it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg

from shared.errors import DependencyUnavailable


@dataclass(frozen=True)
class HeadAnchor:
    seq: int
    hash: str
    at: str  # ISO 8601, UTC: when the writer saw this head

    def as_json(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash, "at": self.at}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> HeadAnchor:
        data = json.loads(text)
        return cls(seq=int(data["seq"]), hash=str(data["hash"]), at=str(data["at"]))


class AnchorStore(Protocol):
    def read(self) -> HeadAnchor | None: ...

    def write(self, anchor: HeadAnchor) -> None: ...

    def describe(self) -> str: ...


class SsmAnchor:
    """The anchor as a String parameter of SSM (the writer creates it on its first write)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client, self.name = client, name

    def describe(self) -> str:
        return f"ssm:{self.name}"

    def read(self) -> HeadAnchor | None:
        try:
            reply = self.client.get_parameter(Name=self.name)
        except self.client.exceptions.ParameterNotFound:
            return None
        return HeadAnchor.from_json(reply["Parameter"]["Value"])

    def write(self, anchor: HeadAnchor) -> None:
        self.client.put_parameter(
            Name=self.name,
            Value=anchor.as_json(),
            Type="String",
            Overwrite=True,
            Description="TicketGuard: the audit log's hash-chain head (shared/audit/anchor.py)",
        )


def open_anchor(name: str | None = None) -> AnchorStore | None:
    """The configured anchor (`name`, else TG_AUDIT_ANCHOR_PARAMETER), or None when there is none."""
    if name is None:
        from shared.config import get_settings

        name = get_settings().audit_anchor_parameter
    if not name:
        return None
    import boto3

    return SsmAnchor(boto3.client("ssm"), name)


def read_anchor(name: str | None = None) -> HeadAnchor | None:
    """The configured anchor's value (None: no anchor configured, or none written yet)."""
    store = open_anchor(name)
    if store is None:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return store.read()
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailable(f"the audit anchor {store.describe()} is not readable: {exc}") from None


def chain_head(conn: psycopg.Connection[Any]) -> tuple[int, str, int, str] | None:
    """(head_seq, head_hash, anchor_seq, anchor_hash) of intel.audit_chain (retention's anchor is the
    last archived row)."""
    row = conn.execute(
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM intel.audit_chain"
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]), int(row[2]), str(row[3]))


def check(conn: psycopg.Connection[Any], anchor: HeadAnchor) -> list[str]:
    """What is wrong with the chain against `anchor` (empty: it holds)."""
    head = chain_head(conn)
    if head is None:
        return [f"the chain has no head, but seq {anchor.seq} was anchored at {anchor.at}"]
    head_seq, _, archived_seq, archived_hash = head
    where = f"seq {anchor.seq} (anchored at {anchor.at})"
    if head_seq < anchor.seq:
        return [
            f"the chain's head is seq {head_seq}, before the anchored {where}: rows at its end were removed"
        ]
    if anchor.seq < archived_seq:
        return []  # archived by retention to the Object Lock bucket: checked there, not here
    if anchor.seq == archived_seq:
        found: str | None = archived_hash
    else:
        row = conn.execute(
            "SELECT row_hash FROM intel.audit_log WHERE chain_seq = %s", (anchor.seq,)
        ).fetchone()
        found = None if row is None else str(row[0])
    if found is None:
        return [f"the anchored {where} is missing from the chain"]
    if found != anchor.hash:
        return [f"the anchored {where} has another hash now: the chain was rewritten from there"]
    return []


@dataclass(frozen=True)
class AnchorOutcome:
    anchored: HeadAnchor | None  # what the store holds after the step
    advanced: bool
    problems: list[str]


def advance(
    conn: psycopg.Connection[Any], store: AnchorStore, *, now: datetime | None = None
) -> AnchorOutcome:
    """Check the stored anchor against the chain; when it holds and the head moved, store the head."""
    previous = store.read()
    problems = check(conn, previous) if previous else []
    head = chain_head(conn)
    if problems or head is None or (previous and previous.seq == head[0] and previous.hash == head[1]):
        return AnchorOutcome(previous, False, problems)
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    anchor = HeadAnchor(seq=head[0], hash=head[1], at=at)
    store.write(anchor)
    return AnchorOutcome(anchor, True, [])

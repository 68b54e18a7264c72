"""A simulated world as one timeline in simulated time: the marketplace backend's facts (each at the
moment the backend knows it), the purchases to score (each at its own time, before its order is
reported), and the scheduled ETL and feature jobs (the schedules table's firing times).

Facts are the simulator's (tooling.simulator.facts) in time order, except that an account and its
wallet are reported no later than the first fact that refers to them (the simulator dates a few
logins of an account before the account: the same e-mail typed earlier), since ingest rejects a
fact about a row it does not know yet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.jobs.schedules import SCHEDULES, Schedule, fire_times
from tooling.simulator.facts import FACT_RANK

# What the live path runs of the schedules table: the jobs that make the features scoring reads.
JOB_FUNCTIONS = ("etl", "features")
# Ties at one instant: jobs first (they read what was reported before their firing), then the facts
# by the simulator's parent-first rank, a purchase scored after its buyer's logins and before its
# order is reported (the backend asks before it completes the order): simulator.facts' ranks.
JOB_RANK = -1.0
SCORE_RANK = 6.5

FACT, SCORE, JOB = "fact", "score", "job"


@dataclass(frozen=True, slots=True)
class Firing:
    """One scheduled job run: the schedule's row and the instant EventBridge fires it."""

    schedule: Schedule
    at: datetime


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def fact_refs(fact: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The rows a fact is about (its user, wallet and ticket), as keys ("u", id), ("w", address),
    ("t", id): a purchase of that user, wallet or ticket must not be scored before it is reported."""
    data = fact["data"]
    refs: list[tuple[str, Any]] = []
    user = data.get("user_id", data.get("buyer_user_id"))
    if user is not None:
        refs.append(("u", user))
    for name in ("address", "buyer_wallet", "to_wallet"):
        if data.get(name):
            refs.append(("w", data[name]))
    if data.get("ticket_id") is not None:
        refs.append(("t", data["ticket_id"]))
    return tuple(refs)


def due_times(facts: Sequence[dict[str, Any]]) -> list[float]:
    """When the backend reports each fact (epoch seconds): its own time, an account and its wallet
    no later than the first fact that refers to them."""
    times = [_seconds(fact["occurred_at"]) for fact in facts]
    first_user: dict[Any, float] = {}
    first_wallet: dict[str, float] = {}
    wallet_user: dict[str, Any] = {}
    for at, fact in zip(times, facts, strict=True):
        kind, data = fact["type"], fact["data"]
        if kind == "user.created":
            continue
        if kind == "wallet.linked":
            wallet_user[data["address"]] = data["user_id"]
        user = data.get("user_id", data.get("buyer_user_id"))
        if user is not None and at < first_user.get(user, math.inf):
            first_user[user] = at
        wallet = data.get("buyer_wallet")
        if wallet and at < first_wallet.get(wallet, math.inf):
            first_wallet[wallet] = at
    for wallet, at in first_wallet.items():
        user = wallet_user.get(wallet)
        if user is not None and at < first_user.get(user, math.inf):
            first_user[user] = at
    due: list[float] = []
    for at, fact in zip(times, facts, strict=True):
        kind, data = fact["type"], fact["data"]
        if kind == "user.created":
            at = min(at, first_user.get(data["user_id"], math.inf))
        elif kind == "wallet.linked":
            at = min(
                at, first_wallet.get(data["address"], math.inf), first_user.get(data["user_id"], math.inf)
            )
        due.append(at)
    return due


def firings(start: datetime, end: datetime, schedules: Iterable[Schedule] = SCHEDULES) -> list[Firing]:
    """The ETL and feature jobs' firings in [start, end), in time order (the table's order on a tie:
    a job's daily and hourly rows never fire together, the hourly skips the daily's hour)."""
    runs = [
        Firing(schedule, at)
        for schedule in schedules
        if schedule.function in JOB_FUNCTIONS
        for at in fire_times(schedule, start, end)
    ]
    return sorted(runs, key=lambda run: run.at)


def warm_up_firings(start: datetime, end: datetime, every: timedelta, etl: Schedule) -> list[Firing]:
    """Before the measured window, only the ETL, every `every` (the facts still arrive through ingest
    in time order): the features serve nothing there, and the ETL's result does not depend on how
    often it ran."""
    runs: list[Firing] = []
    at = start + every
    while at < end:
        runs.append(Firing(etl, at))
        at += every
    return runs


def timeline(
    facts: Sequence[dict[str, Any]],
    purchases: Sequence[Any],
    jobs: Sequence[Firing],
) -> list[tuple[float, float, int, str, Any]]:
    """Every step as (at, rank, sequence, kind, payload), sorted: kind FACT (payload: the fact),
    SCORE (an order of the simulator), JOB (a Firing)."""
    steps: list[tuple[float, float, int, str, Any]] = []
    for n, (at, fact) in enumerate(zip(due_times(facts), facts, strict=True)):
        steps.append((at, FACT_RANK.get(fact["type"], max(FACT_RANK.values())), n, FACT, fact))
    base = len(steps)
    steps += [(order.created_at, SCORE_RANK, base + n, SCORE, order) for n, order in enumerate(purchases)]
    base = len(steps)
    steps += [(run.at.timestamp(), JOB_RANK, base + n, JOB, run) for n, run in enumerate(jobs)]
    steps.sort()
    return steps


def as_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)

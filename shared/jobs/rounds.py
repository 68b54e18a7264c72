"""A job that continues in rounds: each invocation does what fits in its time and answers whether
another round should follow (`continue`) and with what input (`next`: the same `as_of`, the next round
number). A loop outside the function invokes it again while it says so: in AWS a Step Functions state
machine (infra/rounds.py: invoke -> Choice on `continue` -> the `next` input -> invoke), locally
`run_rounds` below (the local timers, tooling/local/schedules.py). The decision is the function's, so both
loops follow the same logic.

Not self-invocation: a function that invokes itself asynchronously is a recursive loop to Lambda, which
stops such chains after about 16 invocations (RecursiveLoop=Terminate), so later rounds would land in
the dead letters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

FIRST_ROUND = 1


def round_of(event: Any) -> int:
    """The round an invocation is (1: the scheduled one; absent means 1)."""
    value = event.get("round", FIRST_ROUND) if isinstance(event, dict) else FIRST_ROUND
    if isinstance(value, bool) or not isinstance(value, int) or value < FIRST_ROUND:
        raise ValueError(f"round must be a whole number >= {FIRST_ROUND}, not {value!r}")
    return value


def next_round(*, complete: bool, as_of: datetime, round_number: int, max_rounds: int) -> dict[str, Any]:
    """What an invocation answers besides its summary: whether the loop invokes it again, and with what
    input. No further round once the work is complete or `max_rounds` rounds have run."""
    more = not complete and round_number < max_rounds
    return {
        "round": round_number,
        "continue": more,
        "next": {"as_of": as_of.isoformat(), "round": round_number + 1} if more else None,
    }


def run_rounds(
    invoke: Callable[[dict[str, Any]], dict[str, Any]], event: dict[str, Any]
) -> list[dict[str, Any]]:
    """The state machine's loop, in-process: invoke with `event`, then with each answer's `next` while
    it answers `continue`; every round's answer, in order."""
    answers = []
    while True:
        answer = invoke(event)
        answers.append(answer)
        if not answer.get("continue"):
            return answers
        event = dict(answer["next"])

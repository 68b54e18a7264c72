"""A rate with its 95% interval: the Wilson score interval of a binomial proportion, for detection and
false-positive rates wherever they are reported (the model's report, the live-path evaluation); and
served decisions against the simulator's truth, per band and fraud scenario, in the shape of the
model report's operating point (training.operating: `two_factor`, `review`, `block`; {rate, count,
of, ci95}): the live path (tooling.livepath) and `make run`'s seeded week (tooling.local.seed)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

Z95 = 1.959964


def wilson(successes: int, trials: int, z: float = Z95) -> list[float]:
    """95% Wilson score interval of a binomial proportion ([] with no trials)."""
    if trials <= 0:
        return []
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return [max(0.0, centre - half), min(1.0, centre + half)]


LEGIT = "legit"  # the simulator's honest scenario (tooling.simulator.config.LEGIT)
# A band flags a purchase when the served decision is this one or stricter.
BANDS: dict[str, frozenset[str]] = {
    "two_factor": frozenset({"REQUIRE_2FA", "MANUAL_REVIEW", "BLOCKED"}),
    "review": frozenset({"MANUAL_REVIEW", "BLOCKED"}),
    "block": frozenset({"BLOCKED"}),
}
BAND_LABELS = {
    "two_factor": "REQUIRE_2FA or stricter",
    "review": "MANUAL_REVIEW or stricter",
    "block": "BLOCKED",
}


def rate(count: int, of: int) -> dict[str, Any]:
    return {"rate": count / of if of else None, "count": count, "of": of, "ci95": wilson(count, of)}


def summarize(decisions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """`decisions`: {scenario, decision, status} per scored purchase (status 200: decided; any other
    answer is counted under `errors` and left out of the rates)."""
    legit: list[str] = []
    fraud: dict[str, list[str]] = {}
    errors: dict[str, int] = {}
    degraded = 0
    for row in decisions:
        if row.get("status", 200) != 200:
            key = str(row.get("status"))
            errors[key] = errors.get(key, 0) + 1
            continue
        degraded += bool(row.get("degraded"))
        if row["scenario"] == LEGIT:
            legit.append(row["decision"])
        else:
            fraud.setdefault(row["scenario"], []).append(row["decision"])
    frauds = [d for scenario in fraud.values() for d in scenario]
    bands = {
        band: {
            "detection": rate(sum(d in flagged for d in frauds), len(frauds)),
            "false_positive": rate(sum(d in flagged for d in legit), len(legit)),
        }
        for band, flagged in BANDS.items()
    }
    per_scenario = {
        scenario: {"purchases": len(made)}
        | {band: rate(sum(d in flagged for d in made), len(made)) for band, flagged in BANDS.items()}
        for scenario, made in sorted(fraud.items())
    }
    return {
        "legitimate": len(legit),
        "frauds": len(frauds),
        "errors": errors,
        "degraded": degraded,
        "bands": bands,
        "per_scenario": per_scenario,
    }


def percent(value: Mapping[str, Any] | None, digits: int = 1) -> str:
    """'2.0% (12/600) [1.1%, 3.5%]' from a rate dict; '-' without trials."""
    if not value or not value.get("of"):
        return "-"
    ci = value.get("ci95") or []
    interval = f" [{ci[0] * 100:.{digits}f}%, {ci[1] * 100:.{digits}f}%]" if len(ci) == 2 else ""
    return f"{value['rate'] * 100:.{digits}f}% ({value['count']}/{value['of']}){interval}"

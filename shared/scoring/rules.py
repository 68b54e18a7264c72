"""Rules a score may not stay below (issue 23): shapes that honest purchases almost never have and that the
model's few training frauds of them cannot teach. A rule that holds raises the score to the middle of its
band (`ruled_score`); the response names it in `rules`, and the model's own score is stored beside the
decision (`model_score`), as for the cold-start guard.

- `resale_cycle`: a closed cycle of resales (resale_cycle_length: the ticket comes back to a wallet that sold
  it, through 2-4 wallets) is a wash trade's own shape. The model weighs it at 0.02-0.04 mean |SHAP| and
  approved 5 of the 7 such purchases of a 7-day x 900 world (seed 101); 1 of the 12,375 honest purchases of
  that cell and of 90 days x 900 closed one (the model already asked it for 2FA). MANUAL_REVIEW: a ring
  controls its own accounts, so a second factor stops nothing; an analyst looks at the ring.
- `new_wallet_burst`: a wallet under NEW_WALLET_DAYS old buying again within the hour (txn_velocity_1h >= 1)
  is a scalper bot's burst (accounts minutes to a day and a half old). The model learned a burst as honest
  (power users buy 2-8 tickets a session) and approved all 18 scalper purchases of `make run`'s week (seed 7,
  v20261204.152217), where 3 of 2,760 honest purchases had this shape. REQUIRE_2FA: a bot fails the second
  factor, a new customer passes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared.config import Thresholds
from shared.scoring.types import Decision

FeatureValues = Mapping[str, float | None]

RESALE_CYCLE = "resale_cycle"
NEW_WALLET_BURST = "new_wallet_burst"
NEW_WALLET_DAYS = 2.0


def _closes_a_resale_cycle(values: FeatureValues) -> bool:
    return bool(values.get("resale_cycle_length"))


def _new_wallet_bursting(values: FeatureValues) -> bool:
    age, velocity = values.get("wallet_age_days"), values.get("txn_velocity_1h")
    return age is not None and age < NEW_WALLET_DAYS and (velocity or 0.0) >= 1.0


@dataclass(frozen=True)
class Rule:
    name: str
    holds: Callable[[FeatureValues], bool]
    band: Decision  # the score is raised to this band's middle


RULES: tuple[Rule, ...] = (
    Rule(RESALE_CYCLE, _closes_a_resale_cycle, Decision.MANUAL_REVIEW),
    Rule(NEW_WALLET_BURST, _new_wallet_bursting, Decision.REQUIRE_2FA),
)


def band_middle(band: Decision, thresholds: Thresholds) -> float:
    """The middle of REQUIRE_2FA or MANUAL_REVIEW under these thresholds."""
    if band is Decision.MANUAL_REVIEW:
        return round((thresholds.review + thresholds.block) / 2, 6)
    if band is Decision.REQUIRE_2FA:
        return round((thresholds.two_factor + thresholds.review) / 2, 6)
    raise ValueError(f"a rule's floor is REQUIRE_2FA or MANUAL_REVIEW, not {band}")


def ruled_score(score: float, values: FeatureValues, thresholds: Thresholds) -> tuple[float, list[str]]:
    """The score raised to the highest floor of the rules that hold, and their names (in RULES order)."""
    held = [rule for rule in RULES if rule.holds(values)]
    if not held:
        return score, []
    floor = max(band_middle(rule.band, thresholds) for rule in held)
    return max(score, floor), [rule.name for rule in held]

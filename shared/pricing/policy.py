"""Epsilon-greedy routing (spec 1.5, epsilon 0.15): with probability 1 - epsilon the arm with the
best mean reward so far (exploit), else one of the other arms uniformly (explore). Before any
reward has settled, the best arm is A (the baseline)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from shared.pricing.arms import ARMS, Arm


@dataclass(frozen=True, slots=True)
class ArmStats:
    """An arm's settled events and the sum and sum of squares of their rewards."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        if self.n < 2:
            return None
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1))


def best_arm(stats: Mapping[Arm, ArmStats]) -> Arm:
    """The arm with the highest mean reward (ties: the first in A..D); A while none has a reward."""
    scored = [(s.mean, arm) for arm in ARMS if (s := stats.get(arm)) is not None and s.mean is not None]
    if not scored:
        return "A"
    top = max(mean for mean, _ in scored)
    return next(arm for mean, arm in scored if mean == top)


def choose(stats: Mapping[Arm, ArmStats], epsilon: float, rng: random.Random) -> tuple[Arm, bool]:
    """(arm, explored): one epsilon-greedy draw."""
    best = best_arm(stats)
    if rng.random() < epsilon:
        return rng.choice([arm for arm in ARMS if arm != best]), True
    return best, False

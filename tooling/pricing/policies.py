"""The routing policies compared by the simulation. Each sees only the rewards settled so far
(`ArmStats` per arm) and answers the arm of the next event.

- epsilon-greedy: the runtime's own (shared.pricing.policy.choose, epsilon 0.15);
- Thompson sampling: a Gaussian posterior per arm (prior N(PRIOR_MEAN, PRIOR_SD^2); the rewards'
  noise from the arm's own spread, PRIOR_NOISE_SD until it has two), one draw each, the best draw;
- UCB1: the arms without a reward in turn, then the highest mean + sqrt(2 ln t / n);
- equal split: arms in turn (A, B, C, D, A, ...), the classic A/B/n test.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Protocol

from shared.pricing.arms import ARMS, Arm
from shared.pricing.policy import ArmStats, choose

PRIOR_MEAN, PRIOR_SD, PRIOR_NOISE_SD = 0.8, 0.5, 0.3


class Policy(Protocol):
    name: str

    def pick(self, stats: Mapping[Arm, ArmStats], turn: int) -> Arm: ...


class EpsilonGreedy:
    name = "epsilon_greedy"

    def __init__(self, rng: random.Random, epsilon: float = 0.15) -> None:
        self.rng, self.epsilon = rng, epsilon

    def pick(self, stats: Mapping[Arm, ArmStats], turn: int) -> Arm:
        return choose(stats, self.epsilon, self.rng)[0]


class Thompson:
    name = "thompson"

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, stats: Mapping[Arm, ArmStats], turn: int) -> Arm:
        draws = {}
        for arm in ARMS:
            s = stats.get(arm, ArmStats())
            noise = math.sqrt(s.variance) if s.variance else PRIOR_NOISE_SD
            precision = 1 / PRIOR_SD**2 + s.n / max(noise, 1e-6) ** 2
            mean = (PRIOR_MEAN / PRIOR_SD**2 + s.total / max(noise, 1e-6) ** 2) / precision
            draws[arm] = self.rng.gauss(mean, 1 / math.sqrt(precision))
        return max(ARMS, key=lambda arm: draws[arm])


class UCB1:
    name = "ucb1"

    def pick(self, stats: Mapping[Arm, ArmStats], turn: int) -> Arm:
        untried = [arm for arm in ARMS if stats.get(arm, ArmStats()).n == 0]
        if untried:  # in turn: under delayed rewards several events wait for the first ones
            return untried[turn % len(untried)]
        total = sum(stats[arm].n for arm in ARMS)
        return max(
            ARMS, key=lambda arm: (stats[arm].mean or 0.0) + math.sqrt(2 * math.log(total) / stats[arm].n)
        )


class EqualSplit:
    name = "equal_split"

    def pick(self, stats: Mapping[Arm, ArmStats], turn: int) -> Arm:
        return ARMS[turn % len(ARMS)]


def policies(seed: int) -> list[Policy]:
    return [EpsilonGreedy(random.Random(seed)), Thompson(random.Random(seed + 1)), UCB1(), EqualSplit()]

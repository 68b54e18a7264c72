"""A rate with its 95% interval: the Wilson score interval of a binomial proportion, for detection and
false-positive rates wherever they are reported (the model's report, the live-path evaluation)."""

from __future__ import annotations

import math

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

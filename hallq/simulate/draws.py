"""Random draws for the simulation: one `random.Random` per purpose, all from one seed.

Separate streams for the citizens and the staff mean that changing the staffing (an away
episode more) leaves every citizen's arrival, service and patience as they were (common
random numbers), so two scenarios differ only where they differ.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from hallq.simulate.scenario import DEFAULT_CV, Draw


@dataclass(frozen=True)
class Streams:
    citizens: random.Random
    appointments: random.Random
    staff: random.Random


def streams(seed: int) -> Streams:
    """The simulation's random streams, each seeded from one `random.Random(seed)`."""
    master = random.Random(seed)
    return Streams(
        citizens=random.Random(master.getrandbits(64)),
        appointments=random.Random(master.getrandbits(64)),
        staff=random.Random(master.getrandbits(64)),
    )


class Sampler:
    """Draws values of one `Draw` (in the unit of the field that holds it)."""

    def __init__(self, draw: Draw) -> None:
        self.kind = draw.distribution
        self.mean = draw.mean
        cv = DEFAULT_CV if draw.cv is None else draw.cv
        sigma2 = math.log1p(cv * cv)
        self._sigma = math.sqrt(sigma2)
        self._mu = math.log(draw.mean) - sigma2 / 2 if draw.mean > 0 else 0.0

    def __call__(self, rng: random.Random) -> float:
        if self.kind == "deterministic":
            return self.mean
        if self.kind == "exponential":
            return rng.expovariate(1.0 / self.mean)
        return rng.lognormvariate(self._mu, self._sigma)


class Choice:
    """Picks one of some items by relative weights."""

    def __init__(self, items: Sequence[str], weights: Sequence[float]) -> None:
        self.items = list(items)
        self._cumulative = list(accumulate(weights))
        self._total = self._cumulative[-1] if self._cumulative else 0.0

    def __call__(self, rng: random.Random) -> str:
        x = rng.random() * self._total
        i = bisect_right(self._cumulative, x)
        return self.items[min(i, len(self.items) - 1)]

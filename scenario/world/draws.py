"""Seeded random draws the generator needs many times a second.

Everything random in the scenario comes from ``random.Random`` instances seeded from the
scenario seed and a fixed label, so a part of the scenario does not shift when another part
draws more or fewer numbers (adding a story must not change every normal sign-in).
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect
from collections.abc import Sequence
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")


def rng_for(seed: int, label: str) -> random.Random:
    """An independent generator for one part of the scenario (``label``)."""
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def guid(rng: random.Random) -> str:
    """A version-4 GUID string drawn from ``rng`` (``uuid.uuid4`` would not be reproducible)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def hex_digits(rng: random.Random, length: int) -> str:
    return f"{rng.getrandbits(length * 4):0{length}x}"


class Weighted(Generic[T]):
    """Pick items by weight in O(log n) per draw, with the cumulative sums computed once."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]):
        if len(items) != len(weights) or not items:
            raise ValueError("need as many weights as items, and at least one item")
        self.items = list(items)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        # min(): guards the float edge where random() * total rounds up to total itself.
        return self.items[min(bisect(self.cumulative, rng.random() * self.total), len(self.items) - 1)]

    def sample(self, rng: random.Random, k: int) -> list[T]:
        return rng.choices(self.items, cum_weights=self.cumulative, k=k)

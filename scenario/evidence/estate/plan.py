"""The shape of the demo's evidence: how big the estate is, when the snapshots are taken, and how
a gap closes over the weeks.

Every gap is a set of items (accounts without MFA, devices with an overdue fix...) each of which
is fixed in some week, or never: the snapshots then show the count falling week by week to the
few the story leaves open at the end, and the weeks between an item's first appearance and its
last give a time to remediate. Which item is fixed when is drawn from the seed, so the same seed
gives the same snapshots.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np

T = TypeVar("T")

#: The hour the weekly evidence job runs (UTC): early, before the working day.
SNAPSHOT_HOUR = 6


@dataclass(frozen=True)
class EstateSize:
    """How much evidence to write. ``None`` keeps the demo council's own numbers (its ~1,500 staff
    and their devices); larger numbers add people and devices drawn the same way (the benchmark's
    5,000 users and 6,000 devices)."""

    users: int | None = None
    devices: int | None = None
    #: Sign-ins in each weekly snapshot of the sign-in log (a week's window of it).
    signins_per_week: int = 20_000
    weeks: int = 8

    def __post_init__(self) -> None:
        if self.weeks < 1:
            raise ValueError(f"weeks must be at least 1 (got {self.weeks})")
        if self.signins_per_week < 0:
            raise ValueError(f"signins_per_week must not be negative (got {self.signins_per_week})")
        for name in ("users", "devices"):
            value = getattr(self, name)
            if value is not None and value < 100:
                raise ValueError(f"{name} must be at least 100 when given (got {value})")


def snapshot_times(at: datetime, weeks: int) -> tuple[datetime, ...]:
    """The weekly snapshot times, oldest first, the last at ``at`` (which must carry a zone)."""
    if at.tzinfo is None:
        raise ValueError(f"the demo evidence time {at.isoformat()} has no time zone")
    last = at.astimezone(UTC)
    return tuple(last - timedelta(weeks=weeks - 1 - w) for w in range(weeks))


def rng(seed: int, label: str) -> random.Random:
    """An independent stream per part, so one part drawing more does not shift the others."""
    digest = hashlib.sha256(f"evidence:{seed}:{label}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def bulk_rng(seed: int, label: str) -> np.random.Generator:
    """A numpy stream for the parts drawn in bulk (sign-ins, vulnerabilities)."""
    digest = hashlib.sha256(f"evidence-bulk:{seed}:{label}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def fix_weeks(draw: random.Random, count: int, weeks: int, remaining: int) -> list[int]:
    """For ``count`` items open in the first week, the week each is fixed in (``weeks`` = never):
    ``remaining`` stay open to the end, the rest close one week or another after the first."""
    remaining = min(remaining, count)
    closing = [draw.randrange(1, weeks) if weeks > 1 else weeks for _ in range(count - remaining)]
    found = closing + [weeks] * remaining
    draw.shuffle(found)
    return found


def scaled(base: int, per: int, population: int, floor: int = 1) -> int:
    """``base`` items per ``per`` of the population, at least ``floor``."""
    return max(floor, round(base * population / per))


def pick(draw: random.Random, items: Sequence[T], count: int) -> list[T]:
    return draw.sample(list(items), min(count, len(items)))

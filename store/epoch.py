"""Event times as integers: microseconds since the Unix epoch, the unit of every stored timestamp;
and the day arithmetic both stores share (their partitions and retention are by UTC day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROS_PER_DAY = 86_400 * 1_000_000


def to_micros(moment: datetime) -> int:
    """Exact (no float rounding) microseconds since the epoch of an aware time."""
    if moment.tzinfo is None:
        raise ValueError("times given to the store must be timezone-aware (UTC)")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def day_label(day_number: int) -> str:
    """``YYYY-MM-DD`` of a day counted from the epoch (the partition name of a day's events)."""
    return (EPOCH + timedelta(days=day_number)).strftime("%Y-%m-%d")


def first_day_kept(days: int, now: datetime | None = None) -> int:
    """The first day (counted from the epoch) that keeping ``days`` days of events keeps: every
    earlier day ended ``days`` days before ``now`` or longer ago."""
    if days < 1:
        raise ValueError(f"days must be 1 or more, got {days}")
    return to_micros((now or datetime.now(UTC)) - timedelta(days=days)) // MICROS_PER_DAY

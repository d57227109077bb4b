"""The scenario's week: when people work, and how times are written in each source's format.

Times are integer milliseconds since the Unix epoch (UTC). Formatting is done with integer
arithmetic and a per-day prefix cache, not ``datetime``: the generator formats a million times.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scenario.world.draws import Weighted
from store.epoch import EPOCH, day_label, to_micros

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

#: Default start: the Monday seven days before a fixed anchor, so the default output never changes.
ANCHOR = datetime(2025, 6, 16, tzinfo=UTC)
DEFAULT_START = ANCHOR - timedelta(days=7)
DAYS = 7

#: Relative activity by weekday (Monday first): a council works weekdays; leisure centres don't stop.
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.9, 0.15, 0.12)
#: Relative activity by hour of day, UK time.
WORKDAY_HOURS = (0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.8, 3, 9, 10, 9, 8, 6, 8, 9, 8, 6, 3, 1.5, 1.2, 1, 0.8, 0.5, 0.3)
WEEKEND_HOURS = (0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1, 2, 3, 3, 3, 3, 3, 3, 3, 2.5, 2, 2, 2, 1.5, 1, 0.7, 0.4)

WORKDAY_PICK = Weighted(range(24), WORKDAY_HOURS)
WEEKEND_PICK = Weighted(range(24), WEEKEND_HOURS)


@dataclass(frozen=True)
class Window:
    start: datetime
    days: int = DAYS

    @property
    def start_ms(self) -> int:
        return to_micros(self.start) // 1000

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def day_start_ms(self, day: int) -> int:
        return self.start_ms + day * DAY_MS

    def weekday(self, day: int) -> int:
        return (self.start.weekday() + day) % 7

    def at(self, day: int, hh: int, mm: int, ss: int = 0) -> int:
        """Milliseconds of a UK wall-clock time on a day of the window (stories are told in UK time)."""
        utc_guess = self.day_start_ms(day) + (hh * 3600 + mm * 60 + ss) * 1000
        return utc_guess - uk_offset_minutes(utc_guess) * MINUTE_MS


def normalise_start(start: datetime | None) -> datetime:
    """Midnight UTC of the given day (the window runs in whole days); naive means UTC."""
    if start is None:
        return DEFAULT_START
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    start = start.astimezone(UTC)
    return datetime(start.year, start.month, start.day, tzinfo=UTC)


def day_weights(window: Window) -> list[float]:
    return [WEEKDAY_WEIGHTS[window.weekday(d)] for d in range(window.days)]


def draw_times(rng: random.Random, window: Window, day: int, n: int) -> list[int]:
    """``n`` sorted times on one day, following the working-hours profile (UK time)."""
    day_ms = window.day_start_ms(day)
    offset = uk_offset_minutes(day_ms + 12 * HOUR_MS) * MINUTE_MS
    hours = (WEEKEND_PICK if window.weekday(day) >= 5 else WORKDAY_PICK).sample(rng, n)
    rand = rng.random
    # A UK hour h starts at UTC h - offset; times falling before midnight UTC wrap onto this day's end.
    times = [(day_ms + h * HOUR_MS - offset + int(rand() * HOUR_MS)) for h in hours]
    end = day_ms + DAY_MS
    times = [t if t >= day_ms else t + DAY_MS for t in times]
    times = [t if t < end else t - DAY_MS for t in times]
    times.sort()
    return times


def is_working_time(window: Window, ms: int) -> bool:
    local = ms + uk_offset_minutes(ms) * MINUTE_MS
    weekday = (window.start.weekday() + (ms - window.start_ms) // DAY_MS) % 7
    hour = (local // HOUR_MS) % 24
    return weekday < 5 and 8 <= hour < 18


# --- UK local time (the council, its staff and its FortiGate live in it) ----------------------

_OFFSET_CACHE: dict[int, tuple[int, int]] = {}


def uk_offset_minutes(ms: int) -> int:
    """Europe/London's offset from UTC: BST (+60) from the last Sunday of March to that of October."""
    day = ms // DAY_MS
    bounds = _OFFSET_CACHE.get(day)
    if bounds is None:
        year = (EPOCH + timedelta(days=day)).year
        bounds = _OFFSET_CACHE[day] = (_last_sunday_1am(year, 3), _last_sunday_1am(year, 10))
    begins, ends = bounds
    return 60 if begins <= ms < ends else 0


def _last_sunday_1am(year: int, month: int) -> int:
    last = datetime(year, month + 1, 1, 1, tzinfo=UTC) - timedelta(days=1)
    last -= timedelta(days=(last.weekday() + 1) % 7)
    return to_micros(last) // 1000


# --- formats ---------------------------------------------------------------------------------

_ISO_DAY: dict[int, str] = {}
_LA_DAY: dict[int, str] = {}


def _split(ms: int) -> tuple[int, int, int, int, int]:
    day, rem = divmod(ms, DAY_MS)
    h, rem = divmod(rem, HOUR_MS)
    m, rem = divmod(rem, MINUTE_MS)
    s, milli = divmod(rem, 1000)
    return day, h, m, s, milli


def iso7(ms: int) -> str:
    """``2025-06-09T08:15:41.2210000Z``: Graph's and Azure diagnostics' seven fractional digits."""
    day, h, m, s, milli = _split(ms)
    prefix = _ISO_DAY.get(day)
    if prefix is None:
        prefix = _ISO_DAY[day] = day_label(day) + "T"
    return f"{prefix}{h:02d}:{m:02d}:{s:02d}.{milli:03d}0000Z"


def iso_ms(ms: int) -> str:
    """``2025-06-09T08:15:41.221Z``: RFC 5424's timestamp, UTC, milliseconds."""
    return iso7(ms)[:23] + "Z"


def la_time(ms: int) -> str:
    """``6/9/2025, 8:15:41.221 AM``: how the Log Analytics portal writes times in a CSV export."""
    day, h, m, s, milli = _split(ms)
    prefix = _LA_DAY.get(day)
    if prefix is None:
        d = EPOCH + timedelta(days=day)
        prefix = _LA_DAY[day] = f"{d.month}/{d.day}/{d.year}, "
    h12 = h % 12 or 12
    return f"{prefix}{h12}:{m:02d}:{s:02d}.{milli:03d} {'AM' if h < 12 else 'PM'}"


def uk_local(ms: int) -> tuple[str, str, str]:
    """(date, time, tz) as a FortiGate in the UK writes them: ``2025-06-09``, ``09:15:41``, ``+0100``."""
    offset = uk_offset_minutes(ms)
    local = ms + offset * MINUTE_MS
    iso = iso7(local)
    return iso[:10], iso[11:19], "+0100" if offset else "+0000"

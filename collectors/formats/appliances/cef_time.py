"""CEF times: the event's time from ``rt``/``deviceReceiptTime``, ``end`` or ``start``, written as
epoch milliseconds (or seconds with a fraction) or as ArcSight's text with an optional zone
(``MMM dd yyyy HH:mm:ss[.SSS] [zone]``, with or without the year), in microseconds since the epoch.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.epoch import MICROS_PER_DAY, to_micros

TIME_KEYS = (("rt", "deviceReceiptTime"), ("end", "endTime"), ("start", "startTime"))

# ArcSight's own: MMM dd[ yyyy] HH:mm:ss[.SSS][ zzz] (the CEF standard's list of date formats).
_ARCSIGHT_TIME = re.compile(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2})(?: (\d{4}))? "
    r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6})\d*)?(?: (\S+))?$",
    re.IGNORECASE,
)
# An epoch count with a fraction (seconds.millis as some senders write).
_EPOCH_FRACTION = re.compile(r"(\d{9,11})\.(\d{1,9})")
_CTIME = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) "
    r"(\d\d):(\d\d):(\d\d) (\d{4})$"
)
_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}


def event_time_us(extensions: dict[str, str], now: datetime) -> int | None:
    """``@timestamp`` in epoch microseconds, or None when the record has no readable time.

    FortiGate's own ``eventtime`` (``FTNTFGTeventtime``, ``FortinetFortiGateeventtime``) comes
    first: it is epoch UTC to the nanosecond, while FortiGate's ``start`` is zone-less local
    time. Then ``rt``, ``end``, ``start``.
    """
    for key, value in extensions.items():
        if key.endswith("eventtime") and value.isascii() and value.isdigit():
            stamp = epoch_us(int(value))
            if stamp is not None:
                return stamp
    zone = extensions.get("dtz") or extensions.get("deviceTimeZone")
    for short, long in TIME_KEYS:
        text = extensions.get(short) or extensions.get(long)
        if text:
            stamp = parse_time(text.strip(), zone, now)
            if stamp is not None:
                return stamp
    return None


def epoch_us(number: int) -> int | None:
    """An epoch count in seconds, milliseconds, microseconds or nanoseconds, by its size.

    CEF says milliseconds, senders use all four; the ranges do not overlap for any date
    between 1973 and 5138. None for a number too big for any of them.
    """
    if number >= 10**20:
        return None
    if number >= 10**17:
        return number // 1000
    if number >= 10**14:
        return number
    if number >= 10**11:
        return number * 1000
    return number * 1_000_000


def parse_time(value: str, zone: str | None, now: datetime) -> int | None:
    """One CEF time value in epoch microseconds; None when it is not a time CEF allows.

    The year-less ``MMM dd HH:mm:ss`` form is put in the latest year that is not more than a
    day ahead of ``now`` (the same rule as RFC 3164 clocks).
    """
    stamp, yearless = _parse_time(value, zone, now.year)
    if yearless and stamp is not None and stamp > to_micros(now) + MICROS_PER_DAY:
        stamp, _ = _parse_time(value, zone, now.year - 1)
    return stamp


@lru_cache(maxsize=16384)
def _parse_time(value: str, zone: str | None, year: int) -> tuple[int | None, bool]:
    if value.isascii() and value.isdigit():
        return epoch_us(int(value)), False
    fraction = _EPOCH_FRACTION.fullmatch(value)
    if fraction is not None:
        return int(fraction.group(1)) * 1_000_000 + int(fraction.group(2)[:6].ljust(6, "0")), False
    match = _ARCSIGHT_TIME.match(value)
    if match is not None:
        month, day, given_year, hh, mm, ss, frac, named_zone = match.groups()
        month = month.title()
        micros = int((frac or "0").ljust(6, "0"))
        return _wall(int(given_year or year), month, day, hh, mm, ss, micros, named_zone or zone), given_year is None
    match = _CTIME.match(value)
    if match is not None:
        month, day, hh, mm, ss, given_year = match.groups()
        return _wall(int(given_year), month, day, hh, mm, ss, 0, zone), False
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None, False
    if stamp.tzinfo is None:
        tz = _zone(zone)
        if tz is None:
            return None, False
        stamp = stamp.replace(tzinfo=tz)
    return to_micros(stamp), False


def _wall(year: int, month: str, day: str, hh: str, mm: str, ss: str, micros: int, zone: str | None) -> int | None:
    tz = _zone(zone)
    if tz is None:
        return None
    try:
        return to_micros(datetime(year, _MONTHS[month], int(day), int(hh), int(mm), int(ss), micros, tzinfo=tz))
    except ValueError:
        return None


#: Zone abbreviations that name one offset wherever they are used (IST, CST in China and others
#: that mean two are left out: a wrong hour is worse than the header's or the receive time).
_ABBREVIATIONS: dict[str, float] = {
    "BST": 1.0,
    "WET": 0.0,
    "WEST": 1.0,
    "CET": 1.0,
    "CEST": 2.0,
    "MET": 1.0,
    "MEST": 2.0,
    "EET": 2.0,
    "EEST": 3.0,
    "MSK": 3.0,
    "EST": -5.0,
    "EDT": -4.0,
    "CDT": -5.0,
    "MST": -7.0,
    "MDT": -6.0,
    "PST": -8.0,
    "PDT": -7.0,
    "AKST": -9.0,
    "AKDT": -8.0,
    "HST": -10.0,
    "JST": 9.0,
    "KST": 9.0,
    "AEST": 10.0,
    "AEDT": 11.0,
    "ACST": 9.5,
    "AWST": 8.0,
    "NZST": 12.0,
    "NZDT": 13.0,
}


@lru_cache(maxsize=256)
def _zone(name: str | None) -> timezone | ZoneInfo | None:
    """A zone from ``dtz`` or a time's suffix: IANA names, UTC/GMT/Z, or ``+hh:mm``/``+hhmm``."""
    if not name or name.upper() in ("UTC", "GMT", "Z"):
        return UTC
    hours = _ABBREVIATIONS.get(name.upper())
    if hours is not None:
        return timezone(timedelta(hours=hours))
    offset = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d\d):?(\d\d)", name)
    if offset is not None:
        sign = -1 if offset.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3))))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None

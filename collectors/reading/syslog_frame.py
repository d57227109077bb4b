"""Syslog framing and headers: where one message ends and what its header says.

A syslog message is a header (RFC 3164 "BSD" or RFC 5424 "IETF") in front of a body that the
appliance wrote (CEF, FortiGate key=value, PAN-OS CSV). Files and streams hold messages either one
per line or octet-counted (RFC 6587: ``<length> <message>``). Appliances also send bodies with no
header at all, and rsyslog writes files with a header but without the ``<PRI>``; all of these are
read here, as are the shapes that syslog daemons and devices write to their own log files (all
documented: RFC 3164 section 4.1.2 and its examples, rsyslog's ``RSYSLOG_TraditionalFileFormat``
and ``RSYSLOG_FileFormat`` templates, syslog-ng's ``$ISODATE``, Cisco IOS/ASA ``service timestamps
... year``): a clock with a year (``Mar  7 2008 19:06:53``), a single-digit day with one space
(``Mar 7``), fractions of a second, a colon after the clock (``19:06:53:``), an ISO 8601 clock with
``T`` or a space and with or without a zone, no HOSTNAME, and a TAG without its colon
(``app[123] msg``). The header's clock is only a fallback: the body's own time is preferred by
the callers.

RFC 3164 clocks carry no year. The year is the one that puts the clock nearest before the time of
ingest (``now``), allowing ``FUTURE_ALLOWANCE`` ahead for device clocks east of UTC: a December
line read in January is last year's, and ``Feb 29`` is the latest leap year's.

Times are returned as integer microseconds since the epoch (UTC) because that is what the Arrow
columns are built from, and integers are cheaper than ``datetime`` objects per line.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

import logscan
from store.epoch import to_micros

#: An RFC 3164 timestamp may be ahead of our clock by this much and still be this year: devices
#: stamp local time (UTC+1 in a British summer, more elsewhere) and clocks drift. Without the
#: allowance a message stamped a minute ahead would be put a whole year back.
FUTURE_ALLOWANCE = timedelta(days=1)
_FUTURE_ALLOWANCE_US = FUTURE_ALLOWANCE // timedelta(microseconds=1)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# A dict, not str.title() per line: this is on every line's path.
_MONTH_NUMBERS = {name: i for i, m in enumerate(_MONTHS, 1) for name in (m, m.upper(), m.lower())}
#: Month names as headers write them (``Mar``, ``MAR``, ``mar``) to their numbers.
MONTH_NUMBERS = _MONTH_NUMBERS

# "<PRI>" must be 1-3 digits; a line starting with "<" that is not this is a bad PRI.
_PRI = re.compile(r"<(\d{1,3})>")
# RFC 3164 clock "Mmm dd hh:mm:ss" (day space-padded, or one digit after one space as some devices
# write), with the year (before the time) and the fraction that devices add, a zone name that
# Cisco adds (read as UTC: only UTC/GMT are taken, other names would be guesses), and the colon
# that Cisco puts after it. Month names as written, in capitals or in lower case ("MAR").
# Any three letters here, looked up in _MONTH_NUMBERS after: 36 alternatives cost every line.
_BSD_TIME = re.compile(
    r"([A-Za-z]{3}) {1,2}(\d{1,2})(?: (\d{4}))? "
    r"(\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(?: (?:UTC|GMT))?:?(?: +|$)"
)
# RFC 3339 as in RFC 5424 and rsyslog's high-precision formats; in a file also with a space
# for the "T", without a zone (read as UTC) or with "+hhmm", and a colon after it.
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?):?(?: +|$)")
_RFC5424_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)")
# A 3164 TAG: "app:" or "app[pid]:", or "app[pid]" without its colon (the brackets say it is a
# TAG); no "=", "," or "|" so that a body is never taken for one.
_TAG = re.compile(r"([^\s:\[\]=,|]{1,48})(?:\[([^\]\s]{0,128})\]:?|:)(?: +|$)")
# One RFC 5424 SD-ELEMENT: [id name="value" ...] where values escape '"', '\' and ']'.
_SD_ELEMENT = re.compile(r'\[[^\s\]="]+(?: +[^\s\]="]+="[^"\\]*(?:\\.[^"\\]*)*")* *\]')
# Octet counting: the frame length, one space, then the message. On TCP the message starts with
# "<PRI>"; in a file written by a relay it may not (rsyslog's and syslog-ng's file outputs drop
# the PRI), so a count is also taken when its frame ends where the next frame (a count or a
# "<PRI>", after at most one line end) or the end of the data starts (``_counted_end``).
_OCTET_COUNT = re.compile(rb"([1-9]\d{0,9}) ")
_NEXT_FRAME = re.compile(rb"\r?\n?(?:[1-9]\d{0,9} |<|\s*\Z)")
# The same at a stream's start, after any white space before the first frame.
_OPENING_OCTET_COUNT = re.compile(rb"\s*([1-9]\d{0,9}) ")


class FrameError(ValueError):
    """A message whose syslog header is malformed; the text says what is wrong."""


class Header(NamedTuple):
    """What the syslog header said; every field is None when the message had no header."""

    priority: int | None
    time_us: int | None  # microseconds since the epoch, UTC
    hostname: str | None
    appname: str | None
    procid: str | None
    msgid: str | None
    body: str


class Frame(NamedTuple):
    """One message cut out of a byte stream, with the line it starts on (1-based)."""

    lineno: int
    data: bytes
    error: str | None = None  # why the frame is unusable, e.g. a truncated octet count


def parse_header(line: str, now: datetime) -> Header:
    """Split ``line`` into its syslog header and body.

    ``now`` (aware, UTC) places RFC 3164 clocks, which carry no year, in the latest year that is
    not in the future. Raises ``FrameError`` for a malformed PRI, version or structured data.
    """
    pos = 0
    priority = None
    if line.startswith("<"):
        match = _PRI.match(line)
        if match is None:
            raise FrameError(f"bad PRI: {line[:8]!r} is not '<' 1-3 digits '>'")
        priority = int(match.group(1))
        if priority > 191:
            raise FrameError(f"bad PRI: {priority} is above 191 (facility 23, severity 7)")
        pos = match.end()
        if line.startswith("1 ", pos):
            return _rfc5424(line, pos + 2, priority)
    return _rfc3164(line, pos, priority, now)


def _rfc5424(line: str, pos: int, priority: int) -> Header:
    """``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`` ("-" is "none")."""
    fields = line[pos:].split(" ", 5)
    if len(fields) < 6:
        raise FrameError("truncated RFC 5424 header: expected timestamp, host, app, procid, msgid")
    stamp, hostname, appname, procid, msgid, rest = fields
    time_us = None
    if stamp != "-":
        match = _RFC5424_TIME.fullmatch(stamp)
        if match is None:
            raise FrameError(f"bad RFC 5424 timestamp {stamp!r}: expected RFC 3339 (2024-03-07T19:06:53Z) or -")
        time_us = iso_us(stamp)
    body = _skip_structured_data(rest)
    if body.startswith("\ufeff"):  # RFC 5424 marks UTF-8 bodies with a BOM
        body = body[1:]
    return Header(priority, time_us, _nil(hostname), _nil(appname), _nil(procid), _nil(msgid), body)


def _skip_structured_data(rest: str) -> str:
    """The message after the STRUCTURED-DATA part, which Cyberwell does not keep."""
    if rest == "-" or rest.startswith("- "):
        return rest[2:]
    pos = 0
    while rest.startswith("[", pos):
        match = _SD_ELEMENT.match(rest, pos)
        if match is None:
            raise FrameError(
                'malformed RFC 5424 structured data: expected [id name="value" ...], with ", \\ and ] escaped in values'
            )
        pos = match.end()
    if pos == 0:
        raise FrameError(f"RFC 5424 structured data must be '-' or '[...]', got {rest[:16]!r}")
    return rest[pos + 1 :] if rest.startswith(" ", pos) else rest[pos:]


def _rfc3164(line: str, pos: int, priority: int | None, now: datetime) -> Header:
    """``[<PRI>]TIMESTAMP HOSTNAME [TAG[PID]:] MSG``, or after a PRI just the message.

    Appliances (FortiGate among them) often send ``<PRI>`` followed straight by the body, and
    rsyslog writes files without the ``<PRI>``: only a recognisable clock starts a header.
    """
    time_us = None
    match = _BSD_TIME.match(line, pos)
    if match is not None and match.group(1) in _MONTH_NUMBERS:
        time_us = _bsd_us(match, now)
    else:
        match = _ISO_TIME.match(line, pos)
        if match is None:
            return Header(priority, None, None, None, None, None, line[pos:])
        time_us = iso_us(match.group(1).replace(",", "."))
    pos = match.end()
    hostname = None
    space = line.find(" ", pos)
    token = line[pos:] if space < 0 else line[pos:space]
    if token and not any(c in token for c in "=,|:[]"):
        # As rsyslog does, a token with ":" is the TAG of a header without HOSTNAME; one with
        # "=", "," or "|" is already the appliance's body (key=value, CSV, CEF).
        hostname = token
        pos = len(line) if space < 0 else space + 1
    appname = procid = None
    tag = _TAG.match(line, pos)
    if tag is not None and not line.startswith("CEF", pos):
        appname, procid = tag.group(1), tag.group(2)
        pos = tag.end()
    return Header(priority, time_us, hostname, appname, procid, None, line[pos:])


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _bsd_us(match: re.Match[str], now: datetime) -> int:
    month_name, day, year, hh, mm, ss, frac = match.groups()
    month = _MONTH_NUMBERS[month_name]
    if year is not None:
        stamp = _clock_us(int(year), month, int(day), int(hh), int(mm), int(ss), frac)
    else:
        stamp = yearless_us(month, int(day), int(hh), int(mm), int(ss), frac, to_micros(now))
    if stamp is None:
        raise FrameError(
            f"bad RFC 3164 timestamp {match.group(0).strip()!r}: "
            + ("no such date" if year is not None else "no year has this date")
        )
    return stamp


def yearless_us(month: int, day: int, hh: int, mm: int, ss: int, frac: str | None, now_us: int) -> int | None:
    """A clock without a year, in the year that puts it nearest before ``now_us`` (plus the
    allowance): next year's when ``now`` is New Year's Eve and the device is already in January,
    last year's for a December line read in January, the latest leap year's for ``Feb 29``.

    None for a day no year has (``Feb 30``, ``Apr 31``, day 0) or a time no day has.
    """
    this_year, in_december = _calendar_of(now_us)
    first = this_year + 1 if month == 1 and in_december else this_year  # else next year is ahead
    for year in range(first, this_year - 9, -1):  # every 8 years hold a Feb 29
        stamp = _clock_us(year, month, day, hh, mm, ss, frac)
        if stamp is not None and stamp <= now_us + _FUTURE_ALLOWANCE_US:
            return stamp
    return None


@lru_cache(maxsize=256)
def _calendar_of(micros: int) -> tuple[int, bool]:
    """The year of an epoch time, and whether it is in December."""
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC)
    return moment.year, moment.month == 12


@lru_cache(maxsize=8192)
def _clock_us(year: int, month: int, day: int, hh: int, mm: int, ss: int, frac: str | None) -> int | None:
    """A wall-clock time read as UTC (3164 carries no zone); None for a date the year lacks."""
    try:
        stamp = datetime(year, month, day, hh, mm, ss, tzinfo=UTC)
    except ValueError:
        return None
    return to_micros(stamp) + (int(frac[:6].ljust(6, "0")) if frac else 0)


@lru_cache(maxsize=8192)
def iso_us(text: str) -> int:
    """ISO 8601 to epoch microseconds (``fromisoformat`` drops digits beyond microseconds); a
    clock without a zone is read as UTC, as an RFC 3164 clock is."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FrameError(f"bad timestamp {text!r}: {exc} (expected e.g. 2024-03-07T19:06:53Z)") from None
    return to_micros(stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC))


def is_octet_counted(data: bytes) -> bool:
    """Whether a stream starts with an octet-counted frame: ``<length> <PRI>...``, or a length
    whose frame ends where the next frame or the data starts."""
    match = _OPENING_OCTET_COUNT.match(data)
    if match is None:
        return False
    return data.startswith(b"<", match.end()) or _counted_end(data, match) is not None


def _counted_end(data: bytes | memoryview, count: re.Match[bytes]) -> int | None:
    """Where the frame that ``count`` announces ends, when that is a place a frame may end (the
    end of the data, or the next frame after at most one line end); None when the count does
    not fit the data."""
    stop = count.end() + int(count.group(1))
    if stop > len(data) or _NEXT_FRAME.match(data, stop) is None:
        return None
    return stop


def line_spans(data: bytes | mmap.mmap, lines: int) -> Iterator[tuple[int, int, int]]:
    """A newline-delimited stream cut at line ends into spans of ``lines`` lines (the last may
    have fewer): ``(number of the first line, start, stop)`` byte offsets. A big file is then
    decoded and split a span at a time, never all at once. The line ends are found in place
    (``logscan``: nothing copied), and a memory map's pages already read are let go (they would
    count as the process's memory)."""
    pos, lineno, end = 0, 1, len(data)
    while pos < end:
        stop = logscan.after_lines(data, pos, lines)
        yield lineno, pos, stop
        lineno += lines
        _let_go(data, stop)
        pos = stop


def _let_go(data: bytes | mmap.mmap, stop: int) -> None:
    """Drop the pages of a memory map before ``stop`` from this process (read again on demand)."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        data.madvise(mmap.MADV_DONTNEED, 0, stop - stop % mmap.PAGESIZE)


def split_frames(data: bytes) -> Iterator[Frame]:
    """Cut an octet-counted stream (RFC 6587) into messages, frame by frame.

    Each frame is either counted (``<length> <message>``) or ended by a newline, as RFC 6587
    lets a receiver tell apart; a count that runs past the end is an error on its frame. A count
    before ``<`` is a count whatever follows; before anything else it is taken only where the
    frame it announces ends at a frame boundary, else the line is an ordinary line.
    """
    pos, lineno, end = 0, 1, len(data)
    while pos < end:
        count = _OCTET_COUNT.match(data, pos)
        if count is not None and not data.startswith(b"<", count.end()) and _counted_end(data, count) is None:
            count = None  # digits that start a line, not a count: the line runs to its end
        if count is not None:
            start = count.end()
            stop = start + int(count.group(1))
            frame = data[start:stop]
            error = None
            if stop > end:
                error = f"truncated octet-counted frame: {count.group(1).decode()} octets announced, {end - start} left"
            yield Frame(lineno, frame, error)
            lineno += data.count(b"\n", pos, min(stop, end))
            pos = stop
            if data.startswith(b"\r\n", pos):  # some senders end counted frames with a newline
                pos += 2
                lineno += 1
            elif data.startswith(b"\n", pos):
                pos += 1
                lineno += 1
            continue
        newline = data.find(b"\n", pos)
        stop = end if newline < 0 else newline
        raw = data[pos:stop]
        yield Frame(lineno, raw[:-1] if raw.endswith(b"\r") else raw)
        pos, lineno = stop + 1, lineno + 1

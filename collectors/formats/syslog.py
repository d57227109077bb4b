"""Syslog from appliances (source ``syslog``): files replayed, and lines from a live receiver.

Each message is a syslog header (``collectors.reading.syslog_frame``) and a body that an appliance wrote;
the body decides the dataset:

* CEF (``CEF:0|...``, or ``0|...`` without the prefix as FortiGate may send) → ``cef``
  (``collectors.formats.appliances.cef``);
* FortiGate key=value (a pair first, and one of ``logid=``, ``devname=``, ``devid=``,
  ``subtype=``) → ``fortinet.firewall`` (``collectors.formats.appliances.fortigate``);
* PAN-OS CSV (a known log type such as ``TRAFFIC``, ``THREAT``, ``SYSTEM`` in the fourth field)
  → ``panw.panos`` (``collectors.formats.appliances.panos``);
* anything else is quarantined as an unknown body format.

A body is found however the line was written: after a full header, after a bare ``<PRI>``, with
no header at all (an appliance's own export: ``CEF:0|...``, ``date=... devname=...``,
``1,2024/01/01 10:00:00,...,TRAFFIC,...``), after a TAG without a colon or a host name without a
clock (the first one or two words before the body; they become the HOSTNAME, then the APP-NAME,
where the header had none), and a CEF body after any other prefix (a relay's own fields before
``CEF:``).

This module frames and routes; ``syslog_bulk`` routes the common shapes a batch at a time,
``syslog_rows`` collects each dataset's messages, and ``syslog_events`` turns them into events.

Decisions, so a reader need not guess:

* One file can mix appliances, so ``ParsedBatch.events`` is the union of the datasets' tables
  (``pa.concat_tables(promote_options="default")``): a row has nulls in the columns of the other
  datasets. The columns in ``syslog_events.SYSLOG_COLUMNS`` are in every table; ``DATASET_COLUMNS`` adds each
  dataset's own ECS columns; vendor fields follow as strings, so which columns a table has
  depends on what the appliances sent. Rows are grouped by dataset (CEF, FortiGate, PAN-OS), each
  in the order of the input: nothing downstream reads a batch in line order, and putting every
  column of a mixed batch back in that order cost a fifth of the parse. Vendor keys that
  differ only in case (``src``, ``SRC``) get a suffix on the later one (``SRC_2``), because
  DuckDB's names are case-insensitive.
* ``@timestamp`` is the body's own time when it has one (FortiGate ``eventtime``/``date``+``time``,
  PAN-OS generated time, CEF ``rt``/``end``/``start``), else the syslog header's clock, else the
  time the receiver got the message (``received_at``, live receivers only), else the time of
  ingest (``now``). ``cyberwell.time_source`` says which (``event``, ``header``, ``received``,
  ``ingested``): a record without a time of its own is kept, and whoever searches it can tell
  that its time is Cyberwell's and not the appliance's.
* Syslog has no event id, so ``event.id`` is the SHA-256 (hex) of the line as received (its
  bytes), without its line terminator: ``event.original`` is its text, with U+FFFD where the bytes
  were not UTF-8, and two lines that differ only there must not become one event. Two identical lines are therefore one event, stored
  once: an appliance that sends the same line twice (same second, same counters) is not
  distinguishable from a re-ingested file, and idempotent re-ingest matters more.
* Blank (empty or white-space) lines are no records: skipped, not quarantined.
* A gzip file is read as a bounded stream (``collectors.reading.gunzip``): an over-long line is
  quarantined with its length and an excerpt, a damaged stream keeps the lines before the damage.
* Rejected, each with its reason and ``path:line``: a malformed header (bad PRI,
  RFC 5424 version or structured data, a date no year has), a truncated octet-counted frame, a
  truncated CEF header, unreadable PAN-OS CSV, an unknown body. The lines around a reject are
  kept.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pyarrow as pa

from collectors.formats import syslog_bulk
from collectors.formats.appliances import cef, fortigate, panos
from collectors.formats.syslog_events import (
    VENDORS,
    ReceivedAt,
    aware,
    case_unique,
    connection,
    empty,
    to_events,
    union,
)
from collectors.formats.syslog_rows import Collected
from collectors.reading.line_batch import LineBatch
from collectors.reading.rawfile import READ_ERRORS, read_content, unreadable
from collectors.reading.syslog_frame import (
    Header,
    is_octet_counted,
    line_spans,
    parse_header,
    split_frames,
)
from store.batch import ParsedBatch, Quarantined

SOURCE = "syslog"


#: Whether batches read their common lines in bulk (``syslog_bulk``); the per-line reader is
#: the reference, kept callable with ``bulk=False``.
BULK = True

#: Lines per batch in ``iter_batches``: bounds memory on big files.
BATCH_LINES = 50_000

#: White space that makes a line blank, the same in every line format (``str.isspace`` would
#: also take the ASCII separators U+001C-U+001F and Unicode spaces, which are content).
_BLANK = " \t\r\n\x0b\x0c"
_BARE_CEF = re.compile(r"\d{1,3}\|")
_CEF_ANYWHERE = re.compile(r"CEF: ?\d{1,3}\|")
#: Words a body may follow when its header did not say where it ends (a TAG without a colon, a
#: host name without a clock, a relay's facility.severity): tried one and two words in.
_PREFIX_WORDS = 2
_SURROGATE = re.compile("[\ud800-\udfff]")
_LEADING = re.compile(r"[\s:]*")  # an empty 3164 TAG leaves ": " in front of the body


def parse_file(path: Path, *, now: datetime | None = None, bulk: bool | None = None) -> ParsedBatch:
    """Parse one syslog file (plain or gzip, by magic bytes) into events and quarantined rejects.

    Never raises for bad content; an unreadable file comes back as one quarantined record.
    The file is parsed ``BATCH_LINES`` messages at a time, so that Python holds one batch's
    strings, not the whole file's. ``bulk``: as for ``_start`` (False: every line by the
    per-line reader, the reference).
    """
    batches = list(iter_batches(path, now=now, bulk=bulk))
    if len(batches) == 1:
        return batches[0]
    tables = [batch.events for batch in batches if batch.count]
    events = pa.concat_tables(tables, promote_options="default") if tables else empty()
    return ParsedBatch(case_unique(events), [q for batch in batches for q in batch.quarantined])


def iter_batches(
    path: Path,
    *,
    now: datetime | None = None,
    batch_lines: int | None = None,
    bulk: bool | None = None,
) -> Iterator[ParsedBatch]:
    """``parse_file`` in batches of ``batch_lines`` messages, to keep memory flat on big files.

    Every batch has the ``syslog_events.SYSLOG_COLUMNS``; which vendor columns follow depends on its lines.
    ``batch_lines`` defaults to ``BATCH_LINES``.
    """
    path = Path(path)
    # One batch is parsed in the pool while the one before is merged and handed over, so the
    # threads do not wait for the caller between batches.
    ahead: Parsing | None = None
    for parsing in _start_batches(path, now, batch_lines or BATCH_LINES, bulk):
        if ahead is not None:
            yield ahead.result()
        ahead = parsing
    if ahead is not None:
        yield ahead.result()


def _start_batches(path: Path, now: datetime | None, batch_lines: int, bulk: bool | None) -> Iterator[Parsing]:
    """``iter_batches``' batches, each started in the pool when the generator reaches it."""
    try:
        content, damage = read_content(path, SOURCE)
    except READ_ERRORS as exc:
        yield Parsing.rejected([unreadable(SOURCE, path, exc)])
        return
    if not _octet_counted(content):  # the common case: one message per line
        any_lines = False
        # A span of lines at a time: only one batch is ever copied out of the file.
        for lineno, start, stop in line_spans(content, batch_lines):
            batch = LineBatch.of_lines(bytes(content[start:stop]))
            if not len(batch):
                continue
            any_lines = True
            first, damage = damage, []  # the damage of a gzip goes with the first batch
            yield _start(batch, range(lineno, lineno + len(batch)), str(path), now, None, first, bulk)
        if not any_lines:
            yield Parsing.rejected(damage)
        return
    data = bytes(content)
    del content
    frames: list[bytes] = []
    linenos: list[int] = []
    rejects: list[Quarantined] = damage
    for frame in split_frames(data):
        if frame.error is not None:
            text = frame.data.decode("utf-8", errors="replace")
            rejects.append(Quarantined(SOURCE, frame.error, text, f"{path}:{frame.lineno}"))
            continue
        frames.append(frame.data)
        linenos.append(frame.lineno)
        if len(frames) >= batch_lines:
            yield _start(LineBatch.of_messages(frames), linenos, str(path), now, None, rejects, bulk)
            frames, linenos, rejects = [], [], []
    yield _start(LineBatch.of_messages(frames), linenos, str(path), now, None, rejects, bulk)


def _octet_counted(content: bytes | mmap.mmap) -> bool:
    """Whether the content is octet-counted frames. Only a file that opens with digits and a
    space is copied out of its memory map to be looked at further."""
    if not _OPENS_WITH_COUNT.match(content):
        return False
    return is_octet_counted(bytes(content))


_OPENS_WITH_COUNT = re.compile(rb"\s*[1-9]\d{0,9} ")


def parse_lines(
    lines: Iterable[str | bytes],
    origin: str,
    *,
    now: datetime | None = None,
    received_at: datetime | None = None,
    received_us: Sequence[int | None] | None = None,
    bulk: bool | None = None,
) -> ParsedBatch:
    """Parse messages that are already framed, one per item (a live receiver's datagrams).

    Give the bytes as received where there are any: ``event.id`` is then their hash, so two
    messages that differ only in bytes that are not UTF-8 stay two events (a text holds U+FFFD
    in their place, alike for both).

    ``origin`` names where they came from (``udp:10.0.0.1``); a reject's origin is
    ``origin:n`` with ``n`` its 1-based position. ``received_at`` is the receive time of them all,
    ``received_us`` instead each message's (epoch microseconds, as a spool drain has them); it
    is ``@timestamp`` only when neither the body nor the header has a clock. ``now`` (default:
    the current time) sets ``event.ingested``, places year-less RFC 3164 clocks and times a
    message that has no other clock. ``bulk``: as for ``_start``.
    """
    items = list(lines)
    raws = [
        item.rstrip(b"\r\n") if isinstance(item, bytes) else _encodable(str(item).rstrip("\r\n")).encode("utf-8")
        for item in items
    ]
    arrived: ReceivedAt = received_us if received_us is not None else received_at
    return start_batch(LineBatch.of_messages(raws), origin, now=now, received_us=arrived, bulk=bulk).result()


def start_batch(
    batch: LineBatch,
    origin: str,
    *,
    now: datetime | None = None,
    received_us: ReceivedAt = None,
    bulk: bool | None = None,
) -> Parsing:
    """``parse_lines`` for messages already in one buffer (a spool drain's, as read: no Python
    object per message), started in the parsing threads: the caller reads the next batch, or
    stores the one before, while this one parses; ``result()`` gives the parsed batch.
    ``received_us``: each message's receive time (epoch µs, numpy or a list), or one time for
    all (a datetime)."""
    if received_us is not None and not isinstance(received_us, datetime) and len(received_us) != len(batch):
        raise ValueError(f"received_us has {len(received_us)} times for {len(batch)} messages")
    return _start(batch, range(1, len(batch) + 1), origin, now, received_us, [], bulk)


def _encodable(line: str) -> str:
    """The line as valid UTF-8: lone surrogates (from a lenient decode) become U+FFFD."""
    if line.isascii():
        return line
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", line)
    return line


def _start(
    batch: LineBatch,
    linenos: Sequence[int],
    origin: str,
    now: datetime | None,
    received_at: ReceivedAt,
    rejects: list[Quarantined],
    bulk: bool | None = None,
) -> Parsing:
    """Start parsing a batch of messages in the parsing threads; ``linenos``: each message's
    line number; ``rejects``: those found before parsing (frames, a damaged gzip).

    ``bulk``: read the common shapes a batch at a time (``syslog_bulk``) and only the rest line by
    line; False reads every line by the per-line reader (the reference the bulk reader is tested
    against). None: the module's ``BULK``.
    """
    bulk = BULK if bulk is None else bulk
    now = aware(now or datetime.now(UTC))
    return Parsing(_pool().submit(_parse, batch, linenos, origin, now, received_at, bulk), rejects)


class Parsing:
    """A batch being parsed, and the rejects found before parsing; ``result`` waits for it."""

    def __init__(self, parsing: Future[tuple[list[pa.Table], list[Quarantined]]], rejects: list[Quarantined]):
        self._parsing = parsing
        self._rejects = rejects

    @classmethod
    def rejected(cls, rejects: list[Quarantined]) -> Parsing:
        """Nothing to parse, only rejects (an unreadable file, a damaged gzip with no lines)."""
        nothing: Future[tuple[list[pa.Table], list[Quarantined]]] = Future()
        nothing.set_result(([], []))
        return cls(nothing, rejects)

    def result(self) -> ParsedBatch:
        """The events (one dataset's rows after another's, each in input order) and the rejects in line order."""
        tables, found = self._parsing.result()
        quarantined = self._rejects + found
        quarantined.sort(key=lambda q: _line_of(q.origin))
        return ParsedBatch(union(tables), quarantined)


#: The parsing threads: the scanner, Arrow and DuckDB do most of a batch's work without the
#: GIL, so batches parse side by side, one per core.
THREADS = min(os.cpu_count() or 1, 4)


@cache
def _pool() -> ThreadPoolExecutor:
    """The parsing threads, made once: each keeps its DuckDB connection
    (``syslog_events.connection``) from batch to batch."""
    return ThreadPoolExecutor(THREADS, thread_name_prefix="cyberwell-syslog")


def _parse(
    batch: LineBatch,
    linenos: Sequence[int],
    origin: str,
    now: datetime,
    received_at: ReceivedAt,
    bulk: bool,
) -> tuple[list[pa.Table], list[Quarantined]]:
    """Each dataset's events (with ``_seq``, the row's place in the batch) and the rejects."""
    quarantined: list[Quarantined] = []
    if not len(batch):
        return [], quarantined
    collected = {name: Collected() for name in VENDORS}
    routed = syslog_bulk.route(batch, now, bulk)
    for name, taken in routed.taken.items():
        collected[name].extend(taken)
    for position in routed.others.tolist():
        message = batch.message(position)
        if not message or (message[0] in _BLANK and not message.strip(_BLANK)):
            continue
        reason = _route(message, position, now, collected)
        if reason is not None:
            where = f"{origin}:{linenos[position]}"
            quarantined.append(Quarantined(SOURCE, reason, message, where))
    tables = []
    for name, collecting in collected.items():
        if not collecting:
            continue
        rows = collecting.finish(routed.ids)
        events, rejected = to_events(connection(), name, rows, now, received_at)
        tables.append(events)
        if rejected:
            originals, positions = rows.frame["event.original"].to_pylist(), rows.positions
            quarantined.extend(
                Quarantined(SOURCE, reason, originals[i], f"{origin}:{linenos[positions[i]]}") for i, reason in rejected
            )
    return tables, quarantined


def _route(message: str, position: int, now: datetime, collected: dict[str, Collected]) -> str | None:
    """Read one message into its dataset's ``Collected``; the reject reason, or None."""
    try:
        header = parse_header(message, now)
        body = header.body
        if body[:1] in " \t:":
            body = _LEADING.sub("", body, count=1)
        found = _read_body(body)
        if found is None:
            found, header = _after_prefix(body, header)
        if found is None:
            return (
                "unknown body format: not CEF, FortiGate key=value or PAN-OS CSV (expected 'CEF:0|...',"
                " 'date=... devname=...' or '1,<time>,<serial>,TRAFFIC,...' after the syslog header;"
                f" the body starts {body[:32]!r})"
            )
        name, read = found
    except ValueError as exc:  # FrameError, CefError, FortigateError, PanosError
        return str(exc)
    except Exception as exc:  # a bug; the line is kept in quarantine, the batch goes on
        return f"parser error: {type(exc).__name__}: {exc}"
    collected[name].add(position, message, read, header)
    return None


def _read_body(body: str) -> tuple[str, str] | None:
    """The dataset and the body its vendor's ``build`` reads, when the body is one an appliance
    wrote. A body its vendor cannot read raises here (and is quarantined with the reason)."""
    if body.startswith("CEF:") or _BARE_CEF.match(body):
        cef.parse_cef(body)
        return cef.DATASET, body
    if fortigate.looks_like(body):
        return fortigate.DATASET, body  # split into pairs in bulk by fortigate.build
    if panos.looks_like(body):
        panos.split_fields(body)
        return panos.DATASET, body
    return None


def _after_prefix(body: str, header: Header) -> tuple[tuple[str, str] | None, Header]:
    """The body behind words the header did not account for, and the header with them.

    Only tried when the body is no vendor's as it stands, so the common case pays nothing.
    A CEF body is recognised behind any prefix (its ``CEF:n|`` cannot be mistaken); other bodies
    behind one or two words, which fill the HOSTNAME, then the APP-NAME, where they are empty.
    """
    cef_at = _CEF_ANYWHERE.search(body)
    if cef_at is not None and cef_at.start() > 0:
        prefix = body[: cef_at.start()].split()
        if len(prefix) <= _PREFIX_WORDS:
            header = _with_words(header, prefix)
        cef.parse_cef(body[cef_at.start() :])
        return (cef.DATASET, body[cef_at.start() :]), header
    skipped: list[str] = []
    rest = body
    while len(skipped) < _PREFIX_WORDS:
        parts = rest.split(None, 1)
        if len(parts) < 2:
            break
        skipped.append(parts[0])
        rest = parts[1]
        found = _read_body(rest)
        if found is not None:
            return found, _with_words(header, skipped)
    return None, header


def _with_words(header: Header, words: list[str]) -> Header:
    """The header with prefix words as its HOSTNAME and APP-NAME where it has none."""
    for word in words:
        word = word.rstrip(":")
        if header.hostname is None:
            header = header._replace(hostname=word)
        elif header.appname is None:
            header = header._replace(appname=word)
    return header


def _line_of(origin: str) -> int:
    tail = origin.rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0

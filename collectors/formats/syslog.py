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

Decisions, so a reader need not guess:

* One file can mix appliances, so ``ParsedBatch.events`` is the union of the datasets' tables
  (``pa.concat_tables(promote_options="default")``): a row has nulls in the columns of the other
  datasets. The columns in ``SYSLOG_COLUMNS`` are in every table; ``DATASET_COLUMNS`` adds each
  dataset's own ECS columns; vendor fields follow as strings, so which columns a table has
  depends on what the appliances sent. Rows keep the order of the input. Vendor keys that
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
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collectors.formats import syslog_bulk
from collectors.formats.appliances import cef, cef_bulk, fortigate, panos
from collectors.reading.rawfile import READ_ERRORS, read_content, unreadable
from collectors.reading.syslog_frame import (
    Header,
    is_octet_counted,
    line_spans,
    parse_header,
    split_frames,
    split_lines,
)
from store.batch import ParsedBatch, Quarantined, check_required
from store.epoch import to_micros
from store.schema import EVENTS
from store.sql.literals import quote_ident

SOURCE = "syslog"

#: Columns every syslog dataset has (the event schema's ``syslog`` group).
SYSLOG_COLUMNS: dict[str, pa.DataType] = dict(EVENTS.group("syslog").types)
_SYSLOG_SCHEMA = EVENTS.group("syslog").arrow_schema

_VENDORS = {cef.DATASET: cef, fortigate.DATASET: fortigate, panos.DATASET: panos}

#: Every dataset's ECS columns, in the order its rows have them; vendor columns follow.
DATASET_COLUMNS: dict[str, dict[str, pa.DataType]] = {name: dict(EVENTS.dataset(name).types) for name in _VENDORS}

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

_IPV4 = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
_IPV6 = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,7}(?::" + _IPV4 + r")?(?:%[\w.]+)?"

# Shared by the vendors' mappings: DuckDB macros, defined once per connection.
_MACROS = (
    """CREATE OR REPLACE MACRO normalise_action(a) AS CASE
        WHEN a IS NULL OR trim(a) = '' THEN NULL
        WHEN lower(trim(a)) IN ('accept', 'accepted', 'allow', 'allowed', 'permit', 'permitted',
             'pass', 'passthrough', 'close', 'server-rst', 'client-rst', 'timeout', 'start')
             THEN 'allow'
        WHEN lower(trim(a)) IN ('deny', 'denied', 'block', 'blocked', 'reject', 'rejected',
             'block-url', 'block-ip', 'block-continue') THEN 'deny'
        WHEN lower(trim(a)) IN ('drop', 'dropped', 'drop-icmp', 'drop-all-packets') THEN 'drop'
        ELSE lower(trim(a)) END""",
    # Protocol numbers (FortiGate, some CEF) to names; names pass through lower-cased.
    """CREATE OR REPLACE MACRO transport_name(p) AS CASE lower(trim(p))
        WHEN '' THEN NULL WHEN '6' THEN 'tcp' WHEN '17' THEN 'udp' WHEN '1' THEN 'icmp'
        WHEN '58' THEN 'ipv6-icmp' WHEN '47' THEN 'gre' WHEN '50' THEN 'esp' WHEN '51' THEN 'ah'
        WHEN '132' THEN 'sctp' ELSE lower(trim(p)) END""",
    # ECS address columns hold addresses only; anything else (FortiGate may write a host name
    # in dstip) stays in the vendor column alone.
    f"""CREATE OR REPLACE MACRO ip_or_null(x) AS CASE
        WHEN regexp_full_match(x, '{_IPV4}')
          OR (contains(x, ':') AND regexp_full_match(x, '{_IPV6}')) THEN x END""",
)


def parse_file(path: Path, *, now: datetime | None = None, bulk: bool | None = None) -> ParsedBatch:
    """Parse one syslog file (plain or gzip, by magic bytes) into events and quarantined rejects.

    Never raises for bad content; an unreadable file comes back as one quarantined record.
    The file is parsed ``BATCH_LINES`` messages at a time, so that Python holds one batch's
    strings, not the whole file's. ``bulk``: as for ``_parse`` (False: every line by the
    per-line reader, the reference).
    """
    batches = list(iter_batches(path, now=now, bulk=bulk))
    if len(batches) == 1:
        return batches[0]
    tables = [batch.events for batch in batches if batch.count]
    events = pa.concat_tables(tables, promote_options="default") if tables else _empty()
    return ParsedBatch(_case_unique(events), [q for batch in batches for q in batch.quarantined])


def iter_batches(
    path: Path,
    *,
    now: datetime | None = None,
    batch_lines: int | None = None,
    bulk: bool | None = None,
) -> Iterator[ParsedBatch]:
    """``parse_file`` in batches of ``batch_lines`` messages, to keep memory flat on big files.

    Every batch has the ``SYSLOG_COLUMNS``; which vendor columns follow depends on its lines.
    ``batch_lines`` defaults to ``BATCH_LINES``.
    """
    path = Path(path)
    batch_lines = batch_lines or BATCH_LINES
    try:
        content, damage = read_content(path, SOURCE)
    except READ_ERRORS as exc:
        reject = unreadable(SOURCE, path, exc)
        yield ParsedBatch(_empty(), [reject])
        return
    if not _octet_counted(content):  # the common case: one message per line
        any_lines = False
        # A span of lines at a time: only one batch's text is ever decoded (a whole 1M-line
        # file's strings would cost gigabytes).
        for lineno, start, stop in line_spans(content, batch_lines):
            lines, raws = split_lines(content[start:stop])
            if not lines:
                continue
            any_lines = True
            first, damage = damage, []  # the damage of a gzip goes with the first batch
            numbers = range(lineno, lineno + len(lines))
            yield _parse(lines, numbers, str(path), now, None, first, raws, bulk)
        if not any_lines:
            yield ParsedBatch(_empty(), damage)
        return
    data = bytes(content)
    del content
    messages: list[str] = []
    frames: list[bytes] = []
    linenos: list[int] = []
    rejects: list[Quarantined] = damage
    for frame in split_frames(data):
        text = frame.data.decode("utf-8", errors="replace")
        if frame.error is not None:
            rejects.append(Quarantined(SOURCE, frame.error, text, f"{path}:{frame.lineno}"))
            continue
        messages.append(text)
        frames.append(frame.data)
        linenos.append(frame.lineno)
        if len(messages) >= batch_lines:
            yield _parse(messages, linenos, str(path), now, None, rejects, frames, bulk)
            messages, frames, linenos, rejects = [], [], [], []
    yield _parse(messages, linenos, str(path), now, None, rejects, frames, bulk)


#: When messages arrived: one time for all of them (a datetime), one per message (epoch
#: microseconds, None where unknown: ints, not a datetime per message), or not known.
ReceivedAt = datetime | Sequence[int | None] | None


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
    message that has no other clock. ``bulk``: as for ``_parse``.
    """
    items = list(lines)
    if received_us is not None:
        if len(received_us) != len(items):
            raise ValueError(f"received_us has {len(received_us)} times for {len(items)} messages")
    arrived: ReceivedAt = received_us if received_us is not None else received_at
    if not any(isinstance(item, bytes) for item in items):
        messages = [_encodable(str(line).rstrip("\r\n")) for line in items]
        return _parse(messages, list(range(1, len(messages) + 1)), origin, now, arrived, [], None, bulk)
    keys = [
        item.rstrip(b"\r\n") if isinstance(item, bytes) else item.rstrip("\r\n").encode("utf-8", "replace")
        for item in items
    ]
    messages = [_encodable(key.decode("utf-8", "replace")) for key in keys]
    return _parse(messages, list(range(1, len(messages) + 1)), origin, now, arrived, [], keys, bulk)


def _encodable(line: str) -> str:
    """The line as valid UTF-8: lone surrogates (from a lenient decode) become U+FFFD."""
    if line.isascii():
        return line
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", line)
    return line


def _parse(
    messages: list[str],
    linenos: Sequence[int],
    origin: str,
    now: datetime | None,
    received_at: ReceivedAt,
    rejects: list[Quarantined],
    keys: Sequence[bytes] | None = None,
    bulk: bool | None = None,
) -> ParsedBatch:
    """``keys``: each message's bytes as received, when they are not its text's UTF-8 (``event.id``
    is their hash). Blank messages are no records: they are skipped.

    ``bulk``: read the common shapes a batch at a time (``syslog_bulk``) and only the rest line by
    line; False reads every line by the per-line reader (the reference the bulk reader is tested
    against). None: the module's ``BULK``."""
    bulk = BULK if bulk is None else bulk
    now = _aware(now or datetime.now(UTC))
    collected = {name: _Collected() for name in _VENDORS}
    quarantined = list(rejects)
    if bulk and messages:
        taken, others = syslog_bulk.route(messages, now)
        for name, bulk_rows in taken.items():
            collected[name].extend(bulk_rows, messages, keys)
        remaining: Iterable[int] = sorted(others)
    else:
        remaining = range(len(messages))
    for position in remaining:
        message = messages[position]
        if not message or (message[0] in _BLANK and not message.strip(_BLANK)):
            continue
        reason = _route(message, position, now, collected, keys[position] if keys is not None else None)
        if reason is not None:
            where = f"{origin}:{linenos[position]}"
            quarantined.append(Quarantined(SOURCE, reason, message, where))
    for rows in collected.values():
        rows.in_order()
    tables = []
    for name, rows in collected.items():
        if not rows.positions:
            continue
        events, rejected = _to_events(_connection(), name, rows, now, received_at)
        tables.append(events)
        quarantined.extend(
            Quarantined(SOURCE, reason, rows.originals[i], f"{origin}:{linenos[rows.positions[i]]}")
            for i, reason in rejected
        )
    quarantined.sort(key=lambda q: _line_of(q.origin))
    return ParsedBatch(_union(tables), quarantined)


class _Collected:
    """One dataset's accepted messages, column by column, before they become Arrow."""

    def __init__(self) -> None:
        self.positions: list[int] = []  # index in the batch, to restore the input order
        self.originals: list[str] = []
        self.keys: list[bytes] = []  # the bytes as received, when the batch has them (else empty)
        self.items: list = []  # what the vendor module's reader returned
        self.priorities: list[int | None] = []
        self.times: list[int | None] = []
        self.hostnames: list[str | None] = []
        self.appnames: list[str | None] = []
        self.procids: list[str | None] = []
        self.msgids: list[str | None] = []
        self._sorted = True

    def add(self, position: int, message: str, key: bytes | None, item: object, header: Header) -> None:
        if self.positions and position < self.positions[-1]:
            self._sorted = False
        self.positions.append(position)
        self.originals.append(message)
        if key is not None:  # given for every message of a batch or for none
            self.keys.append(key)
        self.items.append(item)
        self.priorities.append(header.priority)
        self.times.append(header.time_us)
        self.hostnames.append(header.hostname)
        self.appnames.append(header.appname)
        self.procids.append(header.procid)
        self.msgids.append(header.msgid)

    def extend(self, rows: syslog_bulk.Taken, messages: list[str], keys: Sequence[bytes] | None) -> None:
        """The lines the bulk reader took (before any per-line ones: ``in_order`` sorts)."""
        self.positions.extend(rows.positions)
        self.originals.extend(messages[p] for p in rows.positions)
        if keys is not None:
            self.keys.extend(keys[p] for p in rows.positions)
        self.items.extend(rows.items)
        self.priorities.extend(rows.priorities)
        self.times.extend(rows.times)
        self.hostnames.extend(rows.hostnames)
        self.appnames.extend(rows.appnames)
        self.procids.extend(rows.procids)
        self.msgids.extend(rows.msgids)
        self._sorted = False

    def in_order(self) -> None:
        """Rows in the order of the input, as the per-line reader collects them."""
        if self._sorted:
            return
        positions = np.array(self.positions, np.int64)
        self._sorted = True
        if not len(positions) or bool(np.all(positions[1:] > positions[:-1])):
            return  # the usual batch: every line read in bulk, already in order
        order = np.argsort(positions, kind="stable").tolist()
        for name in _COLUMNS:
            values = getattr(self, name)
            if values:
                setattr(self, name, list(map(values.__getitem__, order)))


_COLUMNS = (
    "positions",
    "originals",
    "keys",
    "items",
    "priorities",
    "times",
    "hostnames",
    "appnames",
    "procids",
    "msgids",
)


def _route(
    message: str, position: int, now: datetime, collected: dict[str, _Collected], key: bytes | None
) -> str | None:
    """Read one message into its dataset's ``_Collected``; the reject reason, or None."""
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
        name, item = found
    except ValueError as exc:  # FrameError, CefError, FortigateError, PanosError
        return str(exc)
    except Exception as exc:  # a bug; the line is kept in quarantine, the batch goes on
        return f"parser error: {type(exc).__name__}: {exc}"
    collected[name].add(position, message, key, item, header)
    return None


_Item = cef.CefRecord | str | list[str]


def _read_body(body: str) -> tuple[str, _Item] | None:
    """The dataset and the vendor reader's item, when the body is one an appliance wrote."""
    if body.startswith("CEF:") or _BARE_CEF.match(body):
        return cef.DATASET, cef.parse_cef(body)
    if fortigate.looks_like(body):
        return fortigate.DATASET, body  # split into pairs in bulk by fortigate.build
    if panos.looks_like(body):
        return panos.DATASET, panos.split_fields(body)
    return None


def _after_prefix(body: str, header: Header) -> tuple[tuple[str, _Item] | None, Header]:
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
        return (cef.DATASET, cef.parse_cef(body[cef_at.start() :])), header
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


_LOCAL = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """This thread's DuckDB connection, made once: setting it up costs more than a small batch.

    One per thread because a DuckDB connection must not run two queries at once, and a live
    receiver may parse from several threads.
    """
    con = getattr(_LOCAL, "con", None)
    if con is None:
        con = _LOCAL.con = _connect()
    return con


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    # Rows come back in the order they went in (DuckDB's default, relied upon; set explicitly).
    con.execute("SET preserve_insertion_order = true")
    for macro in _MACROS + fortigate.SQL_MACROS + panos.SQL_MACROS:
        con.execute(macro)
    return con


def _to_events(
    con: duckdb.DuckDBPyConnection, name: str, rows: _Collected, now: datetime, received_at: ReceivedAt
) -> tuple[pa.Table, list[tuple[int, str]]]:
    """One dataset's rows as events, and (row, reason) for those it could not map."""
    module = _VENDORS[name]
    try:
        if module is cef:
            vendor = cef_bulk.build(rows.items, now)
        elif module is fortigate:
            vendor = fortigate.build(rows.items, con)
        else:
            vendor = panos.build(rows.items)
        ecs = _map_ecs(con, name, module, rows, vendor, now, received_at)
    except Exception as exc:  # a bug, not bad input: the dataset's lines go to quarantine
        return _empty(), [(i, f"parser error: {exc}") for i in range(len(rows.positions))]
    vendor = vendor.drop_columns([c for c in vendor.column_names if c.startswith("_")])
    for column in vendor.column_names:
        ecs = ecs.append_column(column, vendor[column])
    return ecs, []


def _map_ecs(
    con: duckdb.DuckDBPyConnection,
    name: str,
    module,
    rows: _Collected,
    vendor: pa.Table,
    now: datetime,
    received_at: ReceivedAt,
) -> pa.Table:
    """Run the vendor's ECS mapping in DuckDB over the frame and vendor columns."""
    inputs = {
        "_seq": pa.array(rows.positions, pa.int64()),
        "event.original": pa.array(rows.originals, pa.string()),
        # hashlib uses the CPU's SHA instructions; DuckDB's sha256 is twice as slow.
        "event.id": pa.array(
            [sha256(key).hexdigest() for key in rows.keys]
            if rows.keys
            else [sha256(line.encode()).hexdigest() for line in rows.originals],
            pa.string(),
        ),
        "_header_time_us": pa.array(rows.times, pa.int64()),
        "log.syslog.priority": pa.array(rows.priorities, pa.int32()),
        "log.syslog.hostname": pa.array(rows.hostnames, pa.string()),
        "log.syslog.appname": pa.array(rows.appnames, pa.string()),
        "log.syslog.procid": pa.array(rows.procids, pa.string()),
        "log.syslog.msgid": pa.array(rows.msgids, pa.string()),
        "_received_us": _received_us(received_at, rows.positions),
    }
    # Only the columns the mapping reads go to DuckDB: its names are case-insensitive, and
    # vendor keys that differ only in case must not collide there.
    for column in module.SQL_INPUTS + ("_body_time_us",):
        if column in vendor.column_names:
            inputs[column] = vendor[column]
        elif column != "_body_time_us":
            inputs[column] = pa.nulls(len(rows.positions), pa.string())
    raw = pa.table(inputs)
    con.register("raw", raw)
    table = con.sql(
        _MAPPING_SQL[name],
        params={
            "ingested": _micros(now),
            "dataset": name,
        },
    ).to_arrow_table()
    con.unregister("raw")
    return table.cast(_MAPPED_SCHEMA[name])


# The columns every dataset takes from the frame (the syslog header, the line) rather than from
# its vendor's mapping; ``_map_ecs`` hands each ``log.syslog.*`` column over in its inputs.
_FRAME_SQL = {
    "@timestamp": "coalesce(_body_time::TIMESTAMPTZ,"
    " make_timestamp(_header_time_us)::TIMESTAMPTZ,"
    " make_timestamp(_received_us)::TIMESTAMPTZ,"
    " make_timestamp($ingested)::TIMESTAMPTZ)",
    # Which clock @timestamp is (docs/events.md): in the order of the coalesce above.
    "cyberwell.time_source": "CASE WHEN _body_time IS NOT NULL THEN 'event'"
    " WHEN _header_time_us IS NOT NULL THEN 'header'"
    " WHEN _received_us IS NOT NULL THEN 'received' ELSE 'ingested' END",
    "event.ingested": "make_timestamp($ingested)::TIMESTAMPTZ",
    "event.dataset": "$dataset",
    "event.id": quote_ident("event.id"),
    "event.original": quote_ident("event.original"),
    "host.hostname": quote_ident("log.syslog.hostname"),
    **{column: quote_ident(column) for column in SYSLOG_COLUMNS if column.startswith("log.syslog.")},
}


def _mapping_sql(name: str) -> str:
    """The query from one dataset's ``raw`` inputs to its columns, cast to the schema's types."""
    module = _VENDORS[name]
    derived = dict(module.ECS_SQL)
    select = ",\n".join(
        f"CAST({_FRAME_SQL.get(column.name) or _derived_or_null(column.name, derived)} AS {column.type.sql})"
        f" AS {quote_ident(column.name)}"
        for column in EVENTS.dataset(name).columns
    )
    inner = ", ".join(f"{expr} AS {quote_ident(column)}" for column, expr in module.ECS_SQL)
    return f"SELECT {select}, _seq FROM (SELECT *, {inner} FROM raw)"


def _derived_or_null(column: str, derived: dict[str, str]) -> str:
    return quote_ident(column) if column in derived else "NULL"


# Built once: the same for every batch.
_MAPPING_SQL = {name: _mapping_sql(name) for name in _VENDORS}
_MAPPED_SCHEMA = {name: EVENTS.dataset(name).arrow_schema.append(pa.field("_seq", pa.int64())) for name in _VENDORS}


def _received_us(received_at: ReceivedAt, positions: list[int]) -> pa.Array:
    """The receive time of each row (by its position in the batch), in epoch microseconds."""
    if received_at is None or isinstance(received_at, datetime):
        return pa.repeat(pa.scalar(_micros(received_at), pa.int64()), len(positions))
    return pa.array([received_at[position] for position in positions], pa.int64())


def _micros(stamp: datetime | None) -> int | None:
    """Epoch microseconds; a naive datetime is taken as UTC."""
    if stamp is None:
        return None
    return to_micros(_aware(stamp))


def _aware(stamp: datetime) -> datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _union(tables: list[pa.Table]) -> pa.Table:
    """One table for all datasets, rows in input order; other datasets' columns are nulls."""
    tables = [table for table in tables if table.num_rows]
    if not tables:
        return _empty()
    table = pa.concat_tables(tables, promote_options="default")
    if len(tables) > 1:
        table = table.take(pc.sort_indices(table["_seq"]))
    table = _case_unique(table.drop_columns(["_seq"]))
    check_required(table)
    return table


def _case_unique(table: pa.Table) -> pa.Table:
    """Rename vendor columns whose names differ from an earlier one only in case.

    Appliances may send ``src`` and ``SRC``; Arrow and Parquet keep both, but DuckDB (the
    store's engine) treats names case-insensitively and would refuse the table. The later
    column becomes ``<name>_2`` (``_3``, ...), so nothing is lost.
    """
    seen: set[str] = set()
    names = []
    for name in table.column_names:
        unique, n = name, 1
        while unique.lower() in seen:
            n += 1
            unique = f"{name}_{n}"
        seen.add(unique.lower())
        names.append(unique)
    return table if names == table.column_names else table.rename_columns(names)


def _line_of(origin: str) -> int:
    tail = origin.rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0


def _empty() -> pa.Table:
    return _SYSLOG_SCHEMA.empty_table()

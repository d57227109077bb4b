"""ArcSight Common Event Format (CEF) bodies → the ``cef`` dataset.

``CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension``

* Header fields escape ``\\|`` and ``\\\\``; the extension escapes ``\\=``, ``\\\\``, ``\\n`` and
  ``\\r`` (ArcSight's "Implementing ArcSight CEF", section "Character encoding": the two parts
  escape differently, and a ``|`` in the extension needs no escape). Any other backslash is kept
  as written. Extension values may hold spaces: a value runs until the space before the next
  ``key=`` whose ``=`` is not escaped. A vendor column keeps a value as sent, spaces included
  (more than one space between pairs, or at the end of the line, stays in the value); the ECS
  columns take it without trailing white space. A repeated key keeps its first value. A header of seven fields with no extension
  may omit the last ``|``.
* Custom fields come as a value and a label that names it (``cs1Label=Rule cs1=allow-web``;
  the ``csN``, ``cnN``, ``cfpN``, ``c6aN``, ``flexStringN``, ``flexNumberN``, ``flexDateN``,
  ``deviceCustomDateN`` families, short or long names): each labelled value is also a named
  column, ``cef.custom.<label>`` (the label lower-cased, runs of other characters than letters,
  digits and ``_`` made ``_``: ``cef.custom.rule``); the first of two values with one label wins.
* Some senders (FortiGate, and SEKOIA's samples of it) drop the ``CEF:`` prefix and start at the
  version digit; both forms are read.
* Vendor columns: ``cef.version``, ``cef.device_vendor``, ``cef.device_product``,
  ``cef.device_version``, ``cef.device_event_class_id``, ``cef.name``, ``cef.severity`` and one
  ``cef.extensions.<key>`` per extension key, named as sent (``src`` and ``sourceAddress`` are both
  CEF's names for one field; the ECS mapping reads either).
* ``@timestamp`` comes from ``rt`` (device receipt time), else ``end``, else ``start`` (short or
  long names), read as an epoch count (milliseconds as CEF says; seconds to nanoseconds as some
  senders write), ArcSight's ``MMM dd [yyyy] HH:mm:ss[.SSS] [zone]``, ctime or ISO 8601, in the
  ``dtz`` zone when the value names none (UTC when neither does). A zone is an IANA name, UTC/GMT/Z,
  an offset (``+01:00``, ``GMT+0100``) or a common abbreviation (``BST``, ``CET``, ``EST``...,
  ``_ABBREVIATIONS``). FortiGate's own epoch
  ``*eventtime`` extension comes first: it is exact UTC, while FortiGate's ``start`` is local time.
  A record with none of these readable has no body time; the syslog parser then takes the
  header's, the receive or the ingest time and says which (``cyberwell.time_source``).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

import pyarrow as pa

from collectors.formats.appliances.cef_time import event_time_us
from store.schema import EVENTS
from store.sql.literals import quote_ident

DATASET = "cef"

HEADER_FIELDS = (
    "cef.version",
    "cef.device_vendor",
    "cef.device_product",
    "cef.device_version",
    "cef.device_event_class_id",
    "cef.name",
    "cef.severity",
)

#: ECS columns this dataset fills beyond those every syslog dataset has (the event schema's).
COLUMNS: dict[str, pa.DataType] = dict(EVENTS.dataset(DATASET).own_types)

_FIELD = r"([^|\\]*(?:\\.[^|\\]*)*)"
_HEADER = re.compile(r"(?:CEF: ?)?(\d{1,3})" + (r"\|" + _FIELD) * 6 + r"\|", re.DOTALL)
# A record without an extension may end at its severity (a word, never spaced) without the "|".
_HEADER_ONLY = re.compile(r"(?:CEF: ?)?(\d{1,3})" + (r"\|" + _FIELD) * 5 + r"\|([^\s|\\]*)\s*$", re.DOTALL)
_HEADER_UNESCAPE = re.compile(r"\\([|\\])")
# A key is word characters (plus the "." "-" "[" "]" some vendors use) right before an unescaped
# "=" and right after whitespace or the start: an escaped "\=" has "\" before it, so never matches.
_KEY = re.compile(r"(?:(?<=\s)|^)([\w.\-\[\]]+)=", re.ASCII)
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-[]")
_SPACE = frozenset(" \t\n\r\f\v")  # what \s is under re.ASCII
_VALUE_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_VALUE_ESCAPES = {"n": "\n", "r": "\r", "=": "=", "\\": "\\"}
# The characters a label keeps in its column name; the rest become "_".
_LABEL_CHARS = re.compile(r"[^\w]+")
#: Prefix of the named columns of labelled custom fields.
CUSTOM_PREFIX = "cef.custom."


class CefError(ValueError):
    """A body that claims to be CEF but is not readable as CEF."""


class CefRecord(NamedTuple):
    header: tuple[str, ...]  # the seven header fields, unescaped, in HEADER_FIELDS order
    extensions: dict[str, str]
    labelled: tuple[str, ...] = ()  # keys that have a "<key>Label" beside them (``to_row``)


def parse_cef(body: str) -> CefRecord:
    """Read one CEF body; raises ``CefError`` when the seven-field header is incomplete."""
    match = _HEADER.match(body) or _HEADER_ONLY.match(body)
    if match is None:
        raise CefError(f"truncated CEF header: {_count_fields(body)} of the 8 '|'-separated parts")
    header = tuple(_HEADER_UNESCAPE.sub(r"\1", value) if "\\" in value else value for value in match.groups())
    extension = body[match.end() :]
    return CefRecord(header, parse_extension(extension), _labelled_keys(extension))


def _labelled_keys(extension: str) -> tuple[str, ...]:
    """The keys that a ``<key>Label=`` names (``cs1`` for ``cs1Label=``).

    Substring searches, not a regular expression: this runs on every record, and a pattern that
    must find where a key starts tries every position of the text. An escaped ``Label\\=`` inside
    a value is not found; a key that is not really one is not in the extension and is ignored.
    """
    keys: list[str] = []
    at = extension.find("Label=")
    while at >= 0:
        start = max(extension.rfind(" ", 0, at), extension.rfind("\t", 0, at)) + 1
        if start < at:
            keys.append(extension[start:at])
        at = extension.find("Label=", at + 6)
    return tuple(keys)


def _count_fields(body: str) -> int:
    return len(re.split(r"(?<!\\)\|", body)) if body else 0


def parse_extension(text: str) -> dict[str, str]:
    """``key=value`` pairs, values unescaped; when a key repeats, the first value wins (as for
    FortiGate key=value, whose CEF form repeats ``duser`` at times).

    One separating space before each key is not part of the previous value; line terminators at
    the very end are framing, not data (a newline inside a value is sent as ``\\n``).
    """
    text = text.rstrip("\r\n")
    keys = key_spans(text)
    pairs: dict[str, str] = {}
    for index, (start, equals) in enumerate(keys):
        end = keys[index + 1][0] - 1 if index + 1 < len(keys) else len(text)
        name = text[start:equals]
        if name in pairs:
            continue
        value = text[equals + 1 : end]
        pairs[name] = _VALUE_ESCAPE.sub(_unescape, value) if "\\" in value else value
    return pairs


def key_spans(text: str) -> list[tuple[int, int]]:
    """Where each key of an extension starts and where its ``=`` is: the matches of ``_KEY``.

    Found from the ``=`` signs backwards, not by the pattern: a pattern with a look-behind is
    tried at every character of the line, and this runs on every CEF record. A key is the run of
    key characters right before an ``=``, with white space or the start of the text before it
    (so an escaped ``\\=`` is never one); ``tests/tolerance/test_syslog_speed_identity.py`` checks that
    this finds what ``_KEY.finditer`` finds.
    """
    spans = []
    equals = text.find("=")
    while equals >= 0:
        start = equals
        while start > 0 and text[start - 1] in _KEY_CHARS:
            start -= 1
        if start < equals and (start == 0 or text[start - 1] in _SPACE):
            spans.append((start, equals))
        equals = text.find("=", equals + 1)
    return spans


def _unescape(match: re.Match[str]) -> str:
    # Unknown escapes are kept as written: losing the backslash would change e.g. Windows paths
    # from senders that forget to double it.
    return _VALUE_ESCAPES.get(match.group(1), match.group(0))


def to_row(record: CefRecord) -> dict[str, str]:
    """The vendor columns of one record."""
    row = dict(zip(HEADER_FIELDS, record.header))
    for key, value in record.extensions.items():
        row["cef.extensions." + key] = value
    extensions = record.extensions
    for key in record.labelled:
        named = custom_column(extensions.get(key + "Label", ""))
        custom = extensions.get(key)
        if named is not None and custom is not None and named not in row:
            row[named] = custom
    return row


@lru_cache(maxsize=4096)
def custom_column(label: str) -> str | None:
    """The column a custom field's label names (``Rule Name`` → ``cef.custom.rule_name``), or
    None for a label with nothing to name it by."""
    name = _LABEL_CHARS.sub("_", label.strip().lower()).strip("_")
    return CUSTOM_PREFIX + name if name else None


def build(records: list[CefRecord], now: datetime) -> pa.Table:
    """The vendor columns of many records, one row each, plus ``_body_time_us`` for the mapping."""
    # pa.array infers the union of the dicts' keys (Table.from_pylist would take the first's).
    table = pa.Table.from_struct_array(pa.array([to_row(record) for record in records]))
    times = [event_time_us(record.extensions, now) for record in records]
    return table.append_column("_body_time_us", pa.array(times, pa.int64()))


# --- ECS ------------------------------------------------------------------------------------


def _ext(*keys: str) -> str:
    """The first non-empty of several extension columns (CEF has a short and a long name)."""
    # Right-trimmed: senders pad values (several spaces between pairs, spaces at the end of a line).
    cols = [f"nullif(rtrim({quote_ident('cef.extensions.' + key)}), '')" for key in keys]
    return cols[0] if len(cols) == 1 else f"coalesce({', '.join(cols)})"


#: Extension columns the ECS mapping reads; absent ones are added as nulls before it runs.
SQL_INPUTS = HEADER_FIELDS + tuple(
    f"cef.extensions.{key}"
    for key in (
        "src",
        "sourceAddress",
        "spt",
        "sourcePort",
        "dst",
        "destinationAddress",
        "dpt",
        "destinationPort",
        "proto",
        "transportProtocol",
        "act",
        "deviceAction",
        "suser",
        "sourceUserName",
        "duser",
        "destinationUserName",
        "shost",
        "sourceHostName",
        "dhost",
        "destinationHostName",
        "request",
        "requestUrl",
        "msg",
        "message",
        "sourceTranslatedAddress",
        "sourceTranslatedPort",
        "destinationTranslatedAddress",
        "destinationTranslatedPort",
        "deviceExternalId",
        "dvchost",
        "deviceHostName",
        "app",
        "applicationProtocol",
        *(f"cs{n}" for n in range(1, 7)),
        *(f"cs{n}Label" for n in range(1, 7)),
    )
)

# Rule names travel in a custom string whose label says so (PAN-OS: cs1Label=Rule).
_RULE_NAME = (
    "coalesce("
    + ", ".join(
        f"CASE WHEN lower(\"cef.extensions.cs{n}Label\") IN ('rule', 'rule name', 'rulename', 'policy',"
        f" 'policy name') THEN nullif(\"cef.extensions.cs{n}\", '') END"
        for n in range(1, 7)
    )
    + ")"
)

#: (column, DuckDB expression over the vendor columns) for the ECS part; ``_body_time_us`` is
#: computed in Python by ``event_time_us`` because CEF allows too many time shapes for SQL.
ECS_SQL: tuple[tuple[str, str], ...] = (
    ("_body_time", "make_timestamp(_body_time_us)"),
    ("event.kind", "'event'"),
    # CEF says nothing about the kind of event; a record with endpoints is network telemetry.
    (
        "event.category",
        f"CASE WHEN {_ext('src', 'sourceAddress')} IS NOT NULL OR "
        f"{_ext('dst', 'destinationAddress')} IS NOT NULL THEN 'network' END",
    ),
    ("event.action", f"normalise_action({_ext('act', 'deviceAction')})"),
    ("message", _ext("msg", "message")),
    ("source.ip", f"ip_or_null({_ext('src', 'sourceAddress')})"),
    ("source.port", f"TRY_CAST({_ext('spt', 'sourcePort')} AS INTEGER)"),
    ("source.domain", _ext("shost", "sourceHostName")),
    ("source.nat.ip", f"ip_or_null({_ext('sourceTranslatedAddress')})"),
    ("source.nat.port", f"TRY_CAST({_ext('sourceTranslatedPort')} AS INTEGER)"),
    ("destination.ip", f"ip_or_null({_ext('dst', 'destinationAddress')})"),
    ("destination.port", f"TRY_CAST({_ext('dpt', 'destinationPort')} AS INTEGER)"),
    ("destination.domain", _ext("dhost", "destinationHostName")),
    ("destination.nat.ip", f"ip_or_null({_ext('destinationTranslatedAddress')})"),
    ("destination.nat.port", f"TRY_CAST({_ext('destinationTranslatedPort')} AS INTEGER)"),
    ("network.transport", f"transport_name({_ext('proto', 'transportProtocol')})"),
    ("network.protocol", f"lower({_ext('app', 'applicationProtocol')})"),
    ("url.original", _ext("request", "requestUrl")),
    ("rule.name", _RULE_NAME),
    ("user.name", _ext("suser", "sourceUserName")),
    ("destination.user.name", _ext("duser", "destinationUserName")),
    ("observer.vendor", "nullif(\"cef.device_vendor\", '')"),
    ("observer.product", "nullif(\"cef.device_product\", '')"),
    ("observer.version", "nullif(\"cef.device_version\", '')"),
    ("observer.name", _ext("dvchost", "deviceHostName")),
    ("observer.serial_number", _ext("deviceExternalId")),
)

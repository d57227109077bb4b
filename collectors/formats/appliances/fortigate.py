"""FortiGate key=value bodies → the ``fortinet.firewall`` dataset.

FortiOS writes ``key=value`` pairs separated by spaces (the default) or by commas (the "CSV"
log format), quoting values that may hold separators: ``srcip=10.0.0.1 msg="a b, c"``. Inside
quotes ``\\"`` stands for a quote; any other backslash is literal (FortiOS writes
``user="DOMAIN\\jdoe"`` with one backslash), so a quoted value cannot end in a backslash.
Every key becomes a string column ``fortinet.firewall.<key>`` named as sent, so nothing FortiOS
says is lost; when a key repeats in one line, the first value wins. The ECS columns are derived
from those by one DuckDB query (``ECS_SQL``).

Speed: this is the busiest syslog source, and a Python ``findall`` per line costs more than the
rest of the pipeline together. So a batch is split into pairs by DuckDB (RE2, without capture
groups, which is several times faster) and pivoted to columns there; Python only decides per
line that the body is FortiGate. ``parse_kv`` reads one line with the same grammar in Python.
"""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from collectors.formats.appliances import fortigate_pairs
from store.schema import EVENTS
from store.sql.literals import quote_ident, quote_literal

DATASET = "fortinet.firewall"
PREFIX = "fortinet.firewall."

#: ECS columns this dataset fills beyond those every syslog dataset has (the event schema's).
COLUMNS: dict[str, pa.DataType] = dict(EVENTS.dataset(DATASET).own_types)

# The grammar, written once for both engines (Python ``re`` with re.ASCII, and RE2 in DuckDB).
_QUOTED = r'"[^"\\]*(?:\\.[^"\\]*)*"'
PAIR_SPACED = r"[\w.\-]+=(?:" + _QUOTED + r"|[^ ]*)"
PAIR_COMMAS = r"[\w.\-]+=(?:" + _QUOTED + r"|[^,]*)"
COMMA_LAYOUT = r"^\s*[\w.\-]+=(?:" + _QUOTED + r'|[^ ,"]*),'

_PAIR_SPACED = re.compile(r"([\w.\-]+)=(" + _QUOTED + r"|[^ ]*)", re.ASCII)
_PAIR_COMMAS = re.compile(r"([\w.\-]+)=(" + _QUOTED + r"|[^,]*)", re.ASCII)
_COMMA_LAYOUT = re.compile(COMMA_LAYOUT, re.ASCII)
_STARTS_WITH_PAIR = re.compile(r"\s*[\w.\-]+=", re.ASCII)
# Keys every FortiOS (and FortiADC/FortiWeb) log carries; CEF is recognised before this.
_FORTI_KEY = re.compile(r"(?:^|[ ,])(?:logid|log_id|devname|devid|subtype)=", re.ASCII)


_GRAMMAR = fortigate_pairs.Grammar(COMMA_LAYOUT, PAIR_SPACED, PAIR_COMMAS)


class FortigateError(ValueError):
    """A body that looked like FortiGate key=value but holds no pairs."""


def looks_like(body: str) -> bool:
    """Whether a body is FortiOS key=value: it starts with a pair and has a FortiOS key."""
    return _STARTS_WITH_PAIR.match(body) is not None and _FORTI_KEY.search(body) is not None


def parse_kv(body: str) -> dict[str, str]:
    """One body as a dict of unquoted values (the first value of a repeated key)."""
    pattern = _PAIR_COMMAS if _COMMA_LAYOUT.match(body) else _PAIR_SPACED
    pairs: dict[str, str] = {}
    for key, value in pattern.findall(body):
        if key not in pairs:
            pairs[key] = _unquote(value)
    if not pairs:
        raise FortigateError("no key=value pairs in a FortiGate body")
    return pairs


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def build(bodies: pa.Array, con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The vendor columns of many bodies, one row each, in order.

    Split a batch at a time (``fortigate_pairs``: the common line on spaces, the rest by the
    grammar in DuckDB) and pivoted to a column per key by one scatter per key.
    """
    found = fortigate_pairs.split(bodies, con, _GRAMMAR)
    if not len(found.keys):  # looks_like() admits no body without a pair: a bug if it happens
        raise FortigateError("no key=value pairs in a batch of FortiGate bodies")
    columns = fortigate_pairs.pivot(found, len(bodies))
    return pa.table({PREFIX + key: column for key, column in columns.items()})


def build_by_pattern(bodies: list[str], con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``build`` by the grammar's regular expression and list lookups in DuckDB, line for line:
    the reference the split on spaces is tested against (slower: ~20 us a line)."""
    con.register("forti_bodies", pa.table({"body": pa.array(bodies, pa.string())}))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE forti_pairs AS
        SELECT list_transform(kv, lambda p: split_part(p, '=', 1)) AS k,
               list_transform(kv, lambda p: substr(p, strpos(p, '=') + 1)) AS v
        FROM (SELECT CASE WHEN regexp_matches(body, {quote_literal(COMMA_LAYOUT)})
                                THEN regexp_extract_all(body, {quote_literal(PAIR_COMMAS)})
                                ELSE regexp_extract_all(body, {quote_literal(PAIR_SPACED)}) END AS kv
              FROM forti_bodies)""")
    con.unregister("forti_bodies")
    found = con.sql("SELECT DISTINCT unnest(k) FROM forti_pairs").fetchall()
    keys = sorted(key for (key,) in found)
    if not keys:  # looks_like() admits no body without a pair: a bug if it happens
        con.execute("DROP TABLE forti_pairs")
        raise FortigateError("no key=value pairs in a batch of FortiGate bodies")
    # Columns are named by position here and by key in Arrow: DuckDB's names are
    # case-insensitive, Arrow's (and FortiOS's keys) are not. list_position finds the first
    # occurrence, so a repeated key keeps its first value.
    select = ", ".join(f"v[list_position(k, {quote_literal(key)})] AS c{i}" for i, key in enumerate(keys))
    # No ORDER BY: DuckDB keeps insertion order (preserve_insertion_order, set by the caller).
    table = con.sql(f"SELECT {select} FROM forti_pairs").to_arrow_table()
    con.execute("DROP TABLE forti_pairs")
    # Quotes come off in Arrow, a column at a time: cheaper than in the pivot.
    return pa.table({PREFIX + key: _unquote_column(table[f"c{i}"]) for i, key in enumerate(keys)})


def _unquote_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Strip the quotes of quoted values and undo their ``\\"``; unquoted values stay as sent."""
    quoted = pc.and_(pc.starts_with(column, '"'), pc.ends_with(column, '"'))
    quoted = pc.and_(quoted, pc.greater_equal(pc.utf8_length(column), 2))
    if not pc.any(quoted).as_py():
        return column
    inner = pc.replace_substring(pc.utf8_slice_codeunits(column, 1, -1), '\\"', '"')
    return pc.if_else(quoted, inner, column)


# --- ECS ------------------------------------------------------------------------------------


def _f(key: str) -> str:
    return f"nullif({quote_ident(PREFIX + key)}, '')"


def _first(*keys: str) -> str:
    return f"coalesce({', '.join(_f(key) for key in keys)})"


#: Vendor columns the ECS mapping reads; absent ones are added as nulls before it runs.
SQL_INPUTS = tuple(
    PREFIX + key
    for key in (
        "eventtime",
        "itime",  # FortiAnalyzer's receive time (epoch seconds) on logs it forwards
        "date",
        "time",
        "tz",
        "timestamp",
        "type",
        "subtype",
        "action",
        "status",
        "logdesc",
        "msg",
        "cfgpath",
        "srcip",
        "srcport",
        "dstip",
        "dstport",
        "transip",
        "transport",
        "tranip",
        "tranport",
        "proto",
        "service",
        "app",
        "url",
        "hostname",
        "policyid",
        "policyname",
        "user",
        "unauthuser",
        "devname",
        "devid",
        "logid",
        "level",
        "remip",
        "remport",
        "locip",
        "locport",
        "userip",
        "ui",
        # FortiADC / FortiWeb spell some of these differently; SEKOIA's samples include one.
        "src",
        "src_port",
        "dst",
        "dst_port",
        "trans_src",
        "trans_src_port",
        "trans_dst",
        "trans_dst_port",
        "policy",
        "log_id",
        "device_id",
        "pri",
        "http_url",
        "http_host",
    )
)

#: DuckDB macros the ECS mapping uses.
SQL_MACROS = (
    # eventtime is seconds, milliseconds, microseconds or nanoseconds, by FortiOS version.
    r"""CREATE OR REPLACE MACRO forti_epoch(x) AS CASE WHEN regexp_full_match(x, '\d{1,19}') THEN
        make_timestamp(CASE WHEN length(x) >= 17 THEN (x::HUGEINT // 1000)::BIGINT
                            WHEN length(x) >= 14 THEN x::BIGINT
                            WHEN length(x) >= 11 THEN x::BIGINT * 1000
                            ELSE x::BIGINT * 1000000 END) END""",
    # tz is "+0100", and on some versions "UTC+2"; no tz means the device clock, read as UTC.
    r"""CREATE OR REPLACE MACRO forti_tz(z) AS CASE
        WHEN z IS NULL OR z = '' THEN '+0000'
        WHEN regexp_full_match(z, '[+-]\d{4}') THEN z
        WHEN regexp_full_match(z, '(?:UTC|GMT)?[+-]\d{1,2}(?::?\d\d)?') THEN
            regexp_extract(z, '([+-])', 1) || lpad(regexp_extract(z, '[+-](\d{1,2})', 1), 2, '0')
            || coalesce(nullif(regexp_extract(z, '[+-]\d{1,2}:?(\d\d)$', 1), ''), '00')
        ELSE '+0000' END""",
    # The documented "2024-03-01 10:00:01" is tried alone first (a list of formats costs more
    # per value); these are not in the FortiOS reference but come from exports and forwarders
    # that re-format the date: a slashed date ("2024/03/01"), a time with a fraction.
    r"""CREATE OR REPLACE MACRO forti_date_time(s) AS try_strptime(s, [
        '%Y/%m/%d %H:%M:%S %z', '%Y-%m-%d %H:%M:%S.%f %z', '%Y/%m/%d %H:%M:%S.%f %z'])""",
)

_CATEGORY = f"""CASE lower({_f("type")})
    WHEN 'traffic' THEN 'network'
    WHEN 'utm' THEN CASE lower({_f("subtype")})
        WHEN 'virus' THEN 'malware' WHEN 'ips' THEN 'intrusion_detection'
        WHEN 'anomaly' THEN 'intrusion_detection' WHEN 'waf' THEN 'intrusion_detection'
        WHEN 'webfilter' THEN 'web' WHEN 'emailfilter' THEN 'email' ELSE 'network' END
    WHEN 'anomaly' THEN 'intrusion_detection' WHEN 'virus' THEN 'malware'
    WHEN 'dns' THEN 'network' WHEN 'webfilter' THEN 'web'
    WHEN 'event' THEN CASE
        WHEN lower({_f("subtype")}) IN ('user', 'authentication')
          OR lower({_f("action")}) IN ('login', 'logout') THEN 'authentication'
        WHEN lower({_f("subtype")}) = 'vpn' THEN 'network'
        WHEN {_f("cfgpath")} IS NOT NULL OR lower({_f("logdesc")}) LIKE '%configured%'
          THEN 'configuration'
        ELSE 'host' END
    END"""

#: (column, DuckDB expression over the vendor columns) for the ECS part.
ECS_SQL: tuple[tuple[str, str], ...] = (
    (
        "_body_time",
        f"""coalesce(
        forti_epoch({_f("eventtime")}),
        try_strptime({_f("date")} || ' ' || {_f("time")} || ' ' || forti_tz({_f("tz")}),
                     '%Y-%m-%d %H:%M:%S %z'),
        forti_date_time({_f("date")} || ' ' || {_f("time")} || ' ' || forti_tz({_f("tz")})),
        forti_epoch({_f("itime")}),
        forti_epoch({_f("timestamp")}))""",
    ),
    ("event.kind", "'event'"),
    ("event.category", _CATEGORY),
    ("event.action", f"normalise_action({_f('action')})"),
    (
        "event.outcome",
        f"""CASE lower({_f("status")}) WHEN 'success' THEN 'success'
        WHEN 'failed' THEN 'failure' WHEN 'failure' THEN 'failure' WHEN 'fail' THEN 'failure' END""",
    ),
    ("event.code", _first("logid", "log_id")),
    ("message", _first("logdesc", "msg")),
    ("log.level", _first("level", "pri")),
    # Event logs name the client elsewhere: the VPN peer (remip), the authenticating user's
    # address (userip), or the admin's in ui="jsconsole(10.0.0.1)".
    (
        "source.ip",
        f"""ip_or_null(coalesce({_f("srcip")}, {_f("src")}, {_f("remip")}, {_f("userip")},
        regexp_extract({_f("ui")}, '\\(([0-9A-Fa-f:.]+)\\)$', 1)))""",
    ),
    ("source.port", f"TRY_CAST({_first('srcport', 'src_port', 'remport')} AS INTEGER)"),
    ("source.nat.ip", f"ip_or_null({_first('transip', 'trans_src')})"),
    # "transport" is FortiOS's name for the translated source port, not the L4 protocol.
    ("source.nat.port", f"TRY_CAST({_first('transport', 'trans_src_port')} AS INTEGER)"),
    ("destination.ip", f"ip_or_null({_first('dstip', 'dst', 'locip')})"),
    ("destination.port", f"TRY_CAST({_first('dstport', 'dst_port', 'locport')} AS INTEGER)"),
    ("destination.nat.ip", f"ip_or_null({_first('tranip', 'trans_dst')})"),
    ("destination.nat.port", f"TRY_CAST({_first('tranport', 'trans_dst_port')} AS INTEGER)"),
    # "hostname" is the web server on traffic and UTM logs, but the client on DHCP event logs.
    (
        "destination.domain",
        f"""CASE WHEN lower({_f("type")}) IN ('traffic', 'utm')
        OR {_f("type")} IS NULL THEN {_first("hostname", "http_host")} END""",
    ),
    ("network.transport", f"transport_name({_f('proto')})"),
    ("network.protocol", f"lower({_f('service')})"),
    ("network.application", _f("app")),
    ("url.original", _first("url", "http_url")),
    ("rule.id", _f("policyid")),
    ("rule.name", _first("policyname", "policy")),
    # FortiOS writes user="N/A" when there is none.
    ("user.name", f"nullif({_first('user', 'unauthuser')}, 'N/A')"),
    ("observer.vendor", "'Fortinet'"),
    ("observer.product", "'FortiGate'"),
    ("observer.name", _f("devname")),
    ("observer.serial_number", _first("devid", "device_id")),
)

"""SQL macros that compiled Sigma rules call, installed on every DuckDB connection.

Compiled rules (detections/backends/duckdb_backend.py) must run on columns of any type — a rule does not know
whether ``destination.port`` was stored as BIGINT or as text — and must not load DuckDB extensions:
``inet`` would be downloaded, and there is no network at run time. So the few things plain SQL cannot
say in one expression live here as macros. DuckDB expands a macro while binding the query, so
``typeof(x)`` inside one is a constant for the column it is given and the branches that do not apply
cost nothing.

IP addresses are matched the way Elasticsearch's ``ip`` field matches them: every address is a
128-bit number and an IPv4 address is its IPv4-mapped IPv6 form (``::ffff:a.b.c.d``). So
``10.0.0.0/8`` also matches ``::ffff:10.1.2.3`` (dual-stack sockets log that form) and ``::/0``
matches every address. The backend splits a network's range into the part IPv4 texts can fall in
(compared as numbers, ``cw_ipv4_between``) and the 128-bit part IPv6 texts are compared in (as 32
hex digits, ``cw_ipv6_between``), which is exact for any prefix length and cheaper than parsing
every address into one form. The text forms accepted are exactly those Python's ``ipaddress``
accepts, minus IPv6 zone ids (``fe80::1%eth0``), which Elasticsearch does not index either.
``cw_ip_hex`` gives any address as fixed-width hex (8 digits IPv4, 32 IPv6) for other uses.
"""

from __future__ import annotations

import duckdb

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
_HEXTET = r"[0-9a-f]{1,4}"
# Eight groups, or '::' standing for at least one zero group; the group count of the '::' form is
# checked separately (at most seven explicit groups), as a regular expression cannot count both sides.
_IPV6_HEX = rf"({_HEXTET}:){{7}}{_HEXTET}|(({_HEXTET}:){{0,6}}{_HEXTET})?::(({_HEXTET}:){{0,6}}{_HEXTET})?"

_INTEGER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
)


def _sql_list(items: tuple[str, ...]) -> str:
    return ", ".join(f"'{item}'" for item in items)


MACROS: dict[str, str] = {
    # -- column kinds: constant per column once the macro is expanded --------------------------
    "cw_is_int(x)": f"typeof(x) IN ({_sql_list(_INTEGER_TYPES)})",
    "cw_is_float(x)": "typeof(x) IN ('FLOAT', 'DOUBLE') OR starts_with(typeof(x), 'DECIMAL')",
    # Text that reads as a number for |lt/|gt on a text column: sign, digits, optional fraction.
    # Deliberately narrow (no exponents, blanks, 'inf' or 'nan') so that every engine agrees.
    "cw_numeric_text(t)": r"regexp_full_match(t, '[+-]?[0-9]{1,20}(\.[0-9]{1,20})?')",
    # -- Sigma value semantics on a column of any type -----------------------------------------
    # A number equals a numeric column holding it, or a text column whose text is that number.
    "cw_eq_num(x, n, t)": (
        "coalesce(CASE WHEN cw_is_int(x) THEN TRY_CAST(x AS HUGEINT) = n"
        " WHEN cw_is_float(x) THEN TRY_CAST(x AS DOUBLE) = n"
        " ELSE CAST(x AS VARCHAR) = t END, false)"
    ),
    # A boolean equals a BOOLEAN column holding it, or text reading 'true'/'false' in any case.
    "cw_eq_bool(x, b)": (
        "coalesce(CASE WHEN typeof(x) = 'BOOLEAN' THEN TRY_CAST(x AS BOOLEAN) = b"
        " ELSE lower(CAST(x AS VARCHAR)) = CAST(b AS VARCHAR) END, false)"
    ),
    # The numeric value of a column for comparisons: numbers as they are, numeric text parsed,
    # everything else (booleans, timestamps, other text) NULL so that no comparison holds.
    "cw_num(x)": (
        "CASE WHEN cw_is_int(x) THEN TRY_CAST(x AS HUGEINT)::DOUBLE"
        " WHEN cw_is_float(x) THEN TRY_CAST(x AS DOUBLE)"
        " WHEN typeof(x) = 'VARCHAR' AND cw_numeric_text(CAST(x AS VARCHAR))"
        " THEN TRY_CAST(x AS DOUBLE) END"
    ),
    # -- IP addresses --------------------------------------------------------------------------
    # An IPv4 text (dotted quad, no leading zeros) as a number; NULL for anything else.
    "cw_ipv4_int(x)": (
        f"CASE WHEN regexp_full_match(CAST(x AS VARCHAR), '{_IPV4}') THEN"
        " split_part(CAST(x AS VARCHAR), '.', 1)::BIGINT * 16777216"
        " + split_part(CAST(x AS VARCHAR), '.', 2)::BIGINT * 65536"
        " + split_part(CAST(x AS VARCHAR), '.', 3)::BIGINT * 256"
        " + split_part(CAST(x AS VARCHAR), '.', 4)::BIGINT END"
    ),
    # DuckDB substitutes macro arguments textually, so an argument used eight times is computed
    # eight times; below, a one-element list_transform binds a costly intermediate text once
    # instead (five times faster on IPv6 addresses).
    #
    # IPv6 text, lower-cased, with a dotted-quad tail (::ffff:1.2.3.4) rewritten as two hex groups.
    "cw__v6_groups(s)": (
        f"CASE WHEN regexp_full_match(s, '.*:{_IPV4}')"
        f" THEN regexp_extract(s, '^(.*:){_IPV4}$', 1)"
        f" || lpad(lower(to_hex(cw_ipv4_int(regexp_extract(s, ':({_IPV4})$', 1)) // 65536)), 4, '0') || ':'"
        f" || lpad(lower(to_hex(cw_ipv4_int(regexp_extract(s, ':({_IPV4})$', 1)) % 65536)), 4, '0')"
        f" ELSE s END"
    ),
    # How many zero groups '::' stands for: eight less the explicit groups (colons, less one for a
    # '::' at either end); '::' must stand for at least one group.
    "cw__v6_missing(s)": (
        "8 - (length(s) - length(replace(s, ':', ''))) + starts_with(s, '::')::INTEGER + ends_with(s, '::')::INTEGER"
    ),
    # Eight explicit groups: '::' replaced by ':0:...:0:' and the colons left at either end trimmed.
    "cw__v6_expand(s)": (
        "CASE WHEN NOT contains(s, '::') THEN s WHEN cw__v6_missing(s) < 1 THEN NULL"
        " ELSE trim(replace(s, '::', ':' || repeat('0:', cw__v6_missing(s))), ':') END"
    ),
    "cw__v6_pad(e)": " || ".join(f"lpad(split_part(e, ':', {i}), 4, '0')" for i in range(1, 9)),
    "cw__v6_hex(s)": (
        f"CASE WHEN regexp_full_match(s, '{_IPV6_HEX}')"
        " THEN list_transform([cw__v6_expand(s)], lambda cw_e: cw__v6_pad(cw_e))[1] END"
    ),
    # An IPv6 text (compressed, exploded, any case, with or without a dotted-quad tail) as 32
    # lower-case hex digits; NULL for anything else, IPv4 texts included.
    "cw_ipv6_hex(x)": ("list_transform([cw__v6_groups(lower(CAST(x AS VARCHAR)))], lambda cw_s: cw__v6_hex(cw_s))[1]"),
    # Range tests for CIDR matching (BETWEEN would parse the address twice).
    "cw_ipv4_between(x, low, high)": "list_transform([cw_ipv4_int(x)], lambda cw_n: cw_n >= low AND cw_n <= high)[1]",
    "cw_ipv6_between(x, low, high)": "list_transform([cw_ipv6_hex(x)], lambda cw_h: cw_h >= low AND cw_h <= high)[1]",
    # Fixed-width lower-case hex of any address: 8 digits for IPv4, 32 for IPv6; NULL otherwise.
    "cw_ip_hex(x)": (
        "CASE WHEN contains(CAST(x AS VARCHAR), ':') THEN cw_ipv6_hex(x)"
        " ELSE lpad(lower(to_hex(cw_ipv4_int(x))), 8, '0') END"
    ),
}


_INSTALL_SQL = ";\n".join(f"CREATE OR REPLACE TEMP MACRO {signature} AS ({body})" for signature, body in MACROS.items())


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or replace) the macros on a connection, in one batch."""
    con.execute(_INSTALL_SQL)

"""How Microsoft's exports write a time, read in DuckDB SQL: one reading for every Azure parser.

Records from Graph, diagnostic settings and Log Analytics carry ISO 8601 (up to 9 decimals, with
or without a zone), but a few exports write the US form instead: the Log Analytics portal's CSV
(``4/28/2021, 2:08:45.221 PM``) and the record ``time`` of some diagnostic-settings exports
(``12/13/2024 4:34:03 PM``). Both are UTC. Kept apart so the sign-in and the firewall parsers
read the same text the same way.
"""

from __future__ import annotations

from store.sql.literals import quote_literal

#: The US forms, most common first; ISO 8601 is read by a cast before these.
US_TIME_FORMATS = (
    "%m/%d/%Y, %I:%M:%S.%g %p",
    "%m/%d/%Y, %I:%M:%S %p",
    "%m/%d/%Y %I:%M:%S.%g %p",
    "%m/%d/%Y %I:%M:%S %p",
)


def time_sql(column: str) -> str:
    """SQL reading ``column`` as a TIMESTAMPTZ, null when it is none of these forms.

    ISO 8601 by a cast; the US forms (told by a slash) by format, without first paying for a
    failed cast. The usual portal format is tried alone first: a list of formats costs twice as
    much per value. A time without a zone is UTC (the connection's zone must be UTC).
    """
    usual, *others = (quote_literal(f) for f in US_TIME_FORMATS)
    return (
        f"CASE WHEN strpos({column}, '/') > 0 THEN CAST(coalesce(try_strptime({column}, {usual}), "
        f"try_strptime({column}, [{', '.join(others)}])) AS TIMESTAMPTZ) "
        f"ELSE TRY_CAST({column} AS TIMESTAMPTZ) END"
    )

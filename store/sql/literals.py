"""Names and values written into DuckDB SQL text, quoted once here for every room.

Parameters are used wherever DuckDB takes them; these are for the places it does not (a file path
in ``read_parquet``, a column name, a macro's constant).
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """A column or table name as a SQL identifier: ``source.ip`` -> ``"source.ip"``."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A text as a SQL string literal: ``O'Brien`` -> ``'O''Brien'``."""
    return "'" + value.replace("'", "''") + "'"

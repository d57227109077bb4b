"""Terminal output: rich tables for people, JSON for scripts.

Every value that came from a log is wrapped in ``Text`` so rich never reads it as markup: a
user name like ``[bold]admin[/]`` is shown as written, not styled. ``table`` does it for every
cell that is not already a ``Text``; console/tables.py and console/live/status_tables.py draw the
query layer's records with it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "informational": "dim",
}

console = Console()


def emit_json(payload) -> None:
    """JSON on stdout, nothing else, so ``--json`` output pipes into jq."""
    sys.stdout.write(json.dumps(payload, indent=2, default=_json_default, ensure_ascii=False) + "\n")


def _json_default(value):
    # Records arrive as their to_dict(); what is left that JSON lacks is a time or a path.
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence]) -> Table:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(cell if isinstance(cell, Text) else Text(_cell(cell)) for cell in row))
    return grid


def severity(level: str) -> Text:
    return Text(level, style=SEVERITY_STYLE.get(level, ""))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)

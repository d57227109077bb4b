"""Terminal output: rich tables for people, JSON for scripts, one-line errors on stderr.

Values shown here come from logs, from the network and from people, so two things are done to
every one of them before it reaches a terminal:

* control characters are made visible (:func:`visible`): an ESC from a syslog line must not
  clear the screen, and an OSC 8 sequence in a user name must not become a live link;
* it is wrapped in ``Text``, so rich never reads it as markup: ``[bold]admin[/]`` is shown as
  written, not styled.

:func:`show`, :func:`table`, :func:`error` and :func:`warning` are the only ways the console
prints to a terminal; console/tables.py and console/live/status_tables.py build what they show
from the query layer's records.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime

from rich.console import Console, RenderableType
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
#: Errors and warnings: stdout stays the command's answer (and pure JSON under ``--json``).
errors = Console(stderr=True)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


#: What a terminal acts on instead of showing: C0 controls, DEL, the C1 controls (0x9b is CSI
#: to a terminal that takes 8-bit controls), and the Unicode marks that reorder text on screen
#: ("Trojan Source"), with the line and paragraph separators.
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_BIDI = [0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ONE_LINE = {code: _escape(code) for code in (*_CONTROLS, *_BIDI)}
_NAMED = {ord("\n"): "\\n", ord("\t"): "\\t", ord("\r"): "\\r"}
_ONE_LINE.update(_NAMED)
#: In a table cell a line break or a tab stays inside the cell's border, so it may stay.
_MULTI_LINE = {code: text for code, text in _ONE_LINE.items() if code not in (ord("\n"), ord("\t"))}
#: JSON escapes C0 itself; what it writes raw with ``ensure_ascii=False`` is written as ``\\uXXXX``.
_JSON = {code: f"\\u{code:04x}" for code in (*range(0x7F, 0xA0), *_BIDI)}


def visible(value: object, one_line: bool = True) -> str:
    """``value`` as text a terminal shows and never obeys: ESC becomes the four characters
    ``\\x1b``, U+202E becomes ``\\u202e``. ``one_line=False`` keeps line breaks and tabs (a
    table cell); messages are one line, so a value cannot forge a second one."""
    return str(value).translate(_ONE_LINE if one_line else _MULTI_LINE)


def text(value: object, style: str = "", one_line: bool = True) -> Text:
    """A value as ``Text``: visible controls, and never read as rich markup."""
    return Text(visible(value, one_line), style=style)


def show(*renderables: RenderableType) -> None:
    """Print to stdout; a plain string or a ``Text`` made elsewhere is made safe first."""
    for renderable in renderables:
        console.print(_safe(renderable))


def error(message: str) -> None:
    """``error: ...`` on stderr, one line whatever the message holds."""
    errors.print(text(f"error: {message}", style="bold red"), soft_wrap=True)


def warning(message: str) -> None:
    errors.print(text(f"warning: {message}", style="yellow"), soft_wrap=True)


def _safe(renderable: RenderableType) -> RenderableType:
    if isinstance(renderable, str):
        return text(renderable, one_line=False)
    if isinstance(renderable, Text):
        return _safe_text(renderable)
    return renderable  # a Table: made by table(), whose title and cells are already safe


def _safe_text(value: Text) -> Text:
    """The same ``Text`` when it holds nothing a terminal obeys, else a visible copy (its
    spans are dropped, its style kept: a value with an ESC in it loses its colours, not its
    characters)."""
    shown = visible(value.plain, one_line=False)
    return value if shown == value.plain else Text(shown, style=value.style)


def emit_json(payload) -> None:
    """JSON on stdout, nothing else, so ``--json`` output pipes into jq; the characters JSON
    would write raw that a terminal obeys are escaped too (``jq`` reads them back the same)."""
    written = json.dumps(payload, indent=2, default=_json_default, ensure_ascii=False)
    sys.stdout.write(written.translate(_JSON) + "\n")


def _json_default(value):
    # Records arrive as their to_dict(); what is left that JSON lacks is a time or a path.
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence]) -> Table:
    """A table whose title and cells are shown as written: visible controls, no markup."""
    grid = Table(title=text(title), title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(text(column), overflow="fold")
    for row in rows:
        grid.add_row(
            *(_safe_text(cell) if isinstance(cell, Text) else text(_cell(cell), one_line=False) for cell in row)
        )
    return grid


def severity(level: str) -> Text:
    return text(level, style=SEVERITY_STYLE.get(level, ""))


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

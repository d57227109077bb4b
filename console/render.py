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
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
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


#: A column whose every cell is at most this long (a time to the second, a count, a severity,
#: a short id) is never wrapped: the long columns give way instead, so a number or a time is
#: read on one line whatever the terminal's width.
SHORT_CELL = 19


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence]) -> Table:
    """A table whose title and cells are shown as written: visible controls, no markup."""
    cells = [
        [_safe_text(cell) if isinstance(cell, Text) else text(_cell(cell), one_line=False) for cell in row]
        for row in rows
    ]
    grid = Table(title=text(title), title_justify="left", header_style="bold")
    for number, column in enumerate(columns):
        short = all(_short(row[number]) for row in cells if number < len(row))
        grid.add_column(text(column), overflow="fold", no_wrap=short and bool(cells))
    for row in cells:
        grid.add_row(*row)
    return grid


def _short(cell: Text) -> bool:
    return len(cell.plain) <= SHORT_CELL and "\n" not in cell.plain


def natural_width(console: Console, renderable: RenderableType) -> int:
    """How wide ``renderable`` is when nothing in it is wrapped."""
    return Measurement.get(console, console.options.update_width(WIDEST), renderable).maximum


#: Wider than any line a table of ours needs: the measure of "as wide as it takes".
WIDEST = 10_000
#: From this width a table is shown even where its longest cells wrap: they wrap onto two lines
#: or so, which reads better than the narrow layout.
TABLE_FROM = 120


class Fitted:
    """A table where the terminal is wide enough for it, and ``narrow`` (the same records laid
    out down the screen) where it is not: at 80 columns a six-column table wraps every cell onto
    five lines. Chosen when drawn, at the width it is drawn at."""

    def __init__(self, wide: RenderableType, narrow: RenderableType, table_from: int = TABLE_FROM) -> None:
        self.wide = wide
        self.narrow = narrow
        self.table_from = table_from

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.choose(console, options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.choose(console, options.max_width))

    def choose(self, console: Console, width: int) -> RenderableType:
        fits = width >= self.table_from or natural_width(console, self.wide) <= width
        return self.wide if fits else self.narrow


@dataclass(frozen=True)
class Card:
    """One record in the narrow layout: a headline of short values on one line, then each long
    value on a line of its own, indented (a long value wraps under itself, not under the
    headline)."""

    headline: Sequence[Text | str]
    lines: Sequence[Text | str] = field(default_factory=tuple)


def cards(title: str, records: Iterable[Card]) -> Group:
    """Records down the screen, one card each, under a title: the narrow layout of a table."""
    shown: list[RenderableType] = [text(title, style="bold")]
    for record in records:
        shown.append(Text("  ").join(_as_text(part, one_line=True) for part in record.headline))
        shown.extend(Padding(_as_text(line), (0, 0, 0, 2), expand=False) for line in record.lines)
    return Group(*shown)


def fitted_table(title: str, columns: Sequence[str], rows: Iterable[Sequence], own_line: Sequence[str]) -> Fitted:
    """A table where it fits, else a card a row: the first column and the short ones (``name
    value``) on one line, then each column of ``own_line`` that has a value on a line of its own
    (``name: value``), so a long error or time is read whole instead of a word a line."""
    rows = [tuple(row) for row in rows]
    records = []
    for row in rows:
        named = list(zip(columns, row, strict=True))
        headline: list[Text | str] = [_as_text(row[0], one_line=True)]
        headline += [Text.assemble(f"{name} ", _as_text(value)) for name, value in named[1:] if name not in own_line]
        lines = [Text.assemble(f"{name}: ", _as_text(value)) for name, value in named if name in own_line and value]
        records.append(Card(headline, lines))
    return Fitted(table(title, columns, rows), cards(title, records))


def _as_text(value: object, one_line: bool = False) -> Text:
    """A cell's value as safe ``Text``: a ``Text`` made elsewhere keeps its style."""
    return _safe_text(value) if isinstance(value, Text) else text(_cell(value), one_line=one_line)


def show_wide(*renderables: RenderableType) -> None:
    """Print each renderable as wide as its longest row, whatever the terminal's width
    (``--wide``: for ``less -S``, a file, or a window wider than the terminal says)."""
    for renderable in renderables:
        safe = _safe(renderable)
        wide = Console(
            file=console.file,
            width=max(natural_width(console, safe), 1),
            force_terminal=console.is_terminal,
            color_system=console.color_system,  # type: ignore[arg-type]  # the name rich gave it
            no_color=console.no_color,
        )
        wide.print(safe)


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

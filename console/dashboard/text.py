"""How values become screen text: never markup, control characters made visible, and severity
with a symbol and a word beside its colour.

Everything from a log (a user name, a rule title, a raw record) reaches the screen through
``safe``: a ``rich.text.Text`` made from ``console.render.visible``, so ``[bold red]`` is shown as
those characters and an escape sequence as ``\\x1b[2J``, never obeyed.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from console.render import visible

#: Symbol, short word and style per Sigma level: the symbol and word carry the meaning on a
#: monochrome terminal, a light one or to a colour-blind reader; the colour only helps.
SEVERITY_LOOK = {
    "critical": ("‼", "CRIT", "bold red"),
    "high": ("▲", "HIGH", "red"),
    "medium": ("◆", "MED", "yellow"),
    "low": ("▽", "LOW", "cyan"),
    "informational": ("·", "INFO", "dim"),
}
STATUS_LOOK = {"new": ("●", "new"), "acknowledged": ("◐", "ack"), "closed": ("○", "closed")}
_BARS = " ▁▂▃▄▅▆▇█"


def safe(value: object, one_line: bool = True, style: str = "") -> Text:
    """A value from a log or the store as text that is shown and never obeyed."""
    return Text("" if value is None else visible(value, one_line), style=style)


def severity(level: str, wide: bool = False) -> Text:
    """``▲ HIGH`` (``▲ high`` wide): symbol and word, in the level's colour."""
    symbol, word, style = SEVERITY_LOOK.get(level, ("?", level.upper(), ""))
    return Text(f"{symbol} {level if wide else word}", style=style)


def status(value: str) -> Text:
    symbol, word = STATUS_LOOK.get(value, ("?", value))
    return Text(f"{symbol} {word}")


def when(moment: datetime | None) -> str:
    """``2026-11-20 09:15`` in UTC, the one form every screen uses."""
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def ago(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``2.0 d``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def bars(counts: tuple[int, ...], top: int) -> str:
    """A sparkline: one block per bucket, scaled to ``top`` (the chart's largest bucket), so the
    rows of several severities compare; an empty bucket is a space, one alert at least ``▁``."""
    if top <= 0:
        return " " * len(counts)
    steps = len(_BARS) - 1
    return "".join(_BARS[0 if n == 0 else max(1, round(n / top * steps))] for n in counts)


def clip(text: str, width: int) -> str:
    """At most ``width`` characters, an ellipsis marking a cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"

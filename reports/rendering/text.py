"""How a document's values become plain text, the same in every format before that format's
escaping: numbers with thousands separators, times in UTC ISO form, nothing as an empty cell,
control characters made visible. And the anchors that name sections in HTML and JSON."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime

from reports.document import Cell, Document, Section

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def cell_text(value: Cell) -> str:
    """One cell as a reader sees it, before escaping."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, datetime):
        return moment(value)
    if isinstance(value, date):
        return value.isoformat()
    return visible(value)


def moment(value: datetime) -> str:
    """A time as UTC, to the second: ``2026-12-01 09:30:00 UTC``."""
    if value.tzinfo is None:
        return value.isoformat(sep=" ", timespec="seconds")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def visible(text: str) -> str:
    """``text`` with control and bidirectional-override characters shown as ``\\uXXXX``: a
    name from a log must not reorder or hide what the auditor reads."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def anchors(document: Document) -> dict[int, str]:
    """A unique anchor per section (by ``id()``), from its own anchor or its heading."""
    found: dict[int, str] = {}
    used: set[str] = set()
    for _, section in document.walk():
        base = section.anchor or _slug(section.heading)
        name, n = base, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        found[id(section)] = name
    return found


def _slug(heading: str) -> str:
    plain = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-") or "section"


def section_anchor(found: dict[int, str], section: Section) -> str:
    return found[id(section)]

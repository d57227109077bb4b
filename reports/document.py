"""A report as a small typed document, before it is HTML, Markdown or JSON.

Every report (Cyber Essentials Plus, awareness) builds one of these and hands it to a renderer in
``reports/rendering/``. Keeping the content apart from the format is what lets one escaping rule
per format hold for every report, and lets a test compare the formats block by block. Values are
plain text: a renderer escapes them, so a builder never writes markup into a cell.

Blocks are frozen dataclasses; ``Block`` is their union, and the renderers dispatch on the type
through registries (dicts), so a new block kind fails the type checker where it is not rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

#: A table cell: text, a number, a date or nothing. Renderers format numbers with thousands
#: separators and show ``None`` as an empty cell.
Cell = str | int | float | date | datetime | None


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    """A captioned table. ``rows`` are what is shown; ``total_rows``, when larger, is how many
    there are in all, and the renderers say how many were held back (``note`` says why or where
    the rest are)."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    total_rows: int | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        for number, row in enumerate(self.rows, 1):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.caption!r}: row {number} has {len(row)} cells; expected {len(self.columns)}"
                )

    @property
    def held_back(self) -> int:
        """How many rows exist beyond those shown."""
        return max(0, (self.total_rows or 0) - len(self.rows))

    @property
    def held_back_note(self) -> str | None:
        """The sentence a reader sees under a bounded table, or ``None`` when nothing was held back."""
        if not self.held_back:
            return self.note
        more = f"{self.held_back:,} more not listed ({len(self.rows):,} of {self.total_rows:,} shown)"
        return f"{more}. {self.note}" if self.note else more + "."


@dataclass(frozen=True)
class Point:
    """One point of a series: when, and the value then."""

    at: date | datetime
    value: float


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Chart:
    """A trend chart over time. The renderer draws it (inline SVG in HTML); ``alt`` is the text a
    screen reader and the Markdown/JSON formats give instead of the picture, so it must state the
    trend in words."""

    caption: str
    alt: str
    series: tuple[Series, ...]
    y_label: str = ""
    #: Values are shares (0-100): the axis is fixed to 0-100 so a trend is not exaggerated.
    percent: bool = False
    #: The time axis's span (the report's period), so one snapshot is drawn in its place in the
    #: period rather than in an axis the plotting library invents around it.
    x_from: datetime | None = None
    x_to: datetime | None = None


@dataclass(frozen=True)
class Definition:
    term: str
    description: str


@dataclass(frozen=True)
class DefinitionList:
    items: tuple[Definition, ...]
    caption: str | None = None


class CalloutKind(StrEnum):
    """What a callout warns of. Each has a word shown with it, so colour is never the only signal."""

    FAIL = "fail"
    AUTOMATIC_FAIL = "automatic fail"
    PARTIAL = "partial"
    PASS = "pass"
    #: A requirement only a person can attest: neither pass nor fail.
    MANUAL = "manual"
    ATTESTATION = "attestation"
    NEEDS_ATTESTATION = "needs attestation"
    NOT_EVIDENCED = "not evidenced"
    NOTE = "note"


@dataclass(frozen=True)
class Callout:
    kind: CalloutKind
    text: str
    title: str | None = None


Block = Paragraph | Table | Chart | DefinitionList | Callout


@dataclass(frozen=True)
class Section:
    """A heading and its blocks; ``subsections`` sit one heading level below."""

    heading: str
    blocks: tuple[Block, ...] = ()
    subsections: tuple[Section, ...] = ()
    #: A stable anchor for links inside the document (HTML ids, JSON keys); derived if left out.
    anchor: str | None = None


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    sections: tuple[Section, ...] = ()
    #: Which report this is ("ce-plus", "awareness"): names the files written and the JSON's kind.
    kind: str = "report"
    #: Plain facts about how it was made (catalogue version, store, tool version), shown in the footer.
    provenance: tuple[Definition, ...] = field(default_factory=tuple)

    def walk(self) -> tuple[tuple[int, Section], ...]:
        """Every section with its depth (1 for a top-level section), in reading order."""
        found: list[tuple[int, Section]] = []

        def visit(section: Section, depth: int) -> None:
            found.append((depth, section))
            for sub in section.subsections:
                visit(sub, depth + 1)

        for section in self.sections:
            visit(section, 1)
        return tuple(found)

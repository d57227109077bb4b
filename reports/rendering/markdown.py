"""A document as Markdown (CommonMark with GitHub's pipe tables), for a ticket, a wiki or a diff.

Every value is escaped twice over: HTML's ``& < >`` become entities, so a renderer that allows
inline HTML shows ``<script>`` as text; and every ASCII punctuation mark CommonMark gives a
meaning to is backslash-escaped, so ``**x**`` stays asterisks and ``[a](javascript:...)`` never
becomes a link. Line breaks in a value become spaces (a newline would end a table row or
start a heading), and the value's leading and trailing spaces go (four would start a code
block). Charts are given as their alt text and a table of their points.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from reports.document import Callout, Chart, DefinitionList, Document, Paragraph, Section, Table
from reports.rendering.text import cell_text, moment, visible

_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
#: The punctuation CommonMark and GitHub give a meaning to anywhere in a line (emphasis, links,
#: images, code, tables, strikethrough, headings); ``& < >`` are handled as entities.
_PUNCTUATION = re.compile(r"([\\`*_\[\]()#!|~{}$])")
#: What starts a list, a quote or a setext underline when it opens a line.
_LINE_START = re.compile(r"^(\s*\d*)([-+=.)])")
_NEWLINES = re.compile(r"\s*[\r\n]+\s*")


def escape(text: str) -> str:
    """``text`` as literal Markdown: nothing in it is markup or HTML."""
    # Leading spaces would make an indented code block; a value's own edges carry no meaning.
    flat = _NEWLINES.sub(" ", visible(text)).strip(" \t")
    escaped = _LINE_START.sub(r"\1\\\2", _PUNCTUATION.sub(r"\\\1", flat))
    return "".join(_HTML.get(char, char) for char in escaped)


def render_markdown(document: Document) -> str:
    lines = [
        f"# {escape(document.title)}",
        "",
        escape(document.subtitle),
        "",
        f"Period {escape(moment(document.period_start))} to {escape(moment(document.period_end))}. "
        f"Generated {escape(moment(document.generated_at))}.",
        "",
    ]
    for section in document.sections:
        lines += _section(section, 2)
    if document.provenance:
        lines += ["---", ""]
        lines += [f"- **{escape(item.term)}**: {escape(item.description)}" for item in document.provenance]
        lines.append("")
    lines += ["Made by Cyberwell from the evidence named in this report. It is not a certification.", ""]
    return "\n".join(lines)


def _section(section: Section, depth: int) -> list[str]:
    lines = [f"{'#' * min(depth, 6)} {escape(section.heading)}", ""]
    for block in section.blocks:
        lines += list(_BLOCKS[type(block)](block))
        lines.append("")
    for sub in section.subsections:
        lines += _section(sub, depth + 1)
    return lines


def _paragraph(block: Paragraph) -> Iterator[str]:
    yield escape(block.text)


def _table(block: Table) -> Iterator[str]:
    yield f"**{escape(block.caption)}**"
    yield ""
    yield _row(escape(column) for column in block.columns)
    yield _row("---" for _ in block.columns)
    for row in block.rows:
        yield _row(escape(cell_text(value)) for value in row)
    if not block.rows:
        yield _row(["None."] + [""] * (len(block.columns) - 1))
    if block.held_back_note:
        yield ""
        yield f"*{escape(block.held_back_note)}*"


def _row(cells: Iterator[str] | list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _chart(block: Chart) -> Iterator[str]:
    yield f"**{escape(block.caption)}** {escape(block.alt)}"
    yield ""
    unit = " (%)" if block.percent else ""
    yield _row(["series", "at", f"value{unit}"])
    yield _row(["---", "---", "---"])
    for series in block.series:
        for point in series.points:
            yield _row([escape(series.label), escape(cell_text(point.at)), escape(cell_text(point.value))])


def _definitions(block: DefinitionList) -> Iterator[str]:
    if block.caption:
        yield f"**{escape(block.caption)}**"
        yield ""
    for item in block.items:
        yield f"- **{escape(item.term)}**: {escape(item.description)}"


def _callout(block: Callout) -> Iterator[str]:
    title = f": **{escape(block.title)}**" if block.title else ""
    yield f"> **{escape(block.kind.value.upper())}**{title}"
    yield ">"
    yield f"> {escape(block.text)}"


_BLOCKS: dict[type, Callable[..., Iterator[str]]] = {
    Paragraph: _paragraph,
    Table: _table,
    Chart: _chart,
    DefinitionList: _definitions,
    Callout: _callout,
}

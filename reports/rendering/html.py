"""A document as one self-contained HTML page: Jinja2 with autoescaping, inline CSS, charts as
inline SVG, no script, nothing fetched (the page's Content-Security-Policy forbids it, so a
mistake shows up as a refused load rather than a silent call home). Prints on A4.

Every value from the document goes through autoescaping; the only markup marked safe is the
SVG matplotlib drew, whose text matplotlib escapes as XML.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

import reports.rendering.palette as palette
from reports.document import Block, Callout, Chart, DefinitionList, Document, Paragraph, Table
from reports.rendering.charts import chart_svg
from reports.rendering.text import anchors, cell_text, moment, visible

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"

#: The template's name for each block type; a new block kind must be added here and in the template.
BLOCK_KINDS: dict[type[Block], str] = {
    Paragraph: "paragraph",
    Table: "table",
    Chart: "chart",
    DefinitionList: "definitions",
    Callout: "callout",
}


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters: dict[str, Callable[..., object]] = {
        "kind": lambda block: BLOCK_KINDS[type(block)],
        "id": id,
        "cell": cell_text,
        "visible": visible,
        "numeric": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    }
    env.filters.update(filters)
    return env


_ENV = _environment()


def render_html(document: Document) -> str:
    charts = {}
    for number, (_, section) in enumerate(document.walk()):
        for index, block in enumerate(section.blocks):
            if isinstance(block, Chart):
                charts[id(block)] = Markup(chart_svg(block, number * 1000 + index))  # noqa: S704  (drawn by matplotlib, text escaped as XML)
    template = _ENV.get_template("report.html.j2")
    return template.render(
        document=document,
        palette=palette,
        anchors=anchors(document),
        charts=charts,
        period=f"{moment(document.period_start)} to {moment(document.period_end)}",
        generated=moment(document.generated_at),
    )

"""A document as JSON, described by ``reports/schemas/report.schema.json``.

Values are kept exactly (a script in a display name comes back as that text when parsed), but
``<``, ``>`` and ``&`` are written as ``\\u003c``-style escapes, so the file holds no markup a
careless viewer or an HTML page embedding it could run. Numbers stay numbers; times are ISO
8601 in UTC.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from reports.document import Callout, Cell, Chart, DefinitionList, Document, Paragraph, Section, Table
from reports.rendering.text import anchors

SCHEMA_ID = "https://cyberwell.invalid/schemas/report/1"
FORMAT_VERSION = 1


def report_schema() -> dict[str, Any]:
    """The JSON Schema the output is held to (draft 2020-12)."""
    text = resources.files("reports").joinpath("schemas/report.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def render_json(document: Document) -> str:
    text = json.dumps(document_dict(document), ensure_ascii=False, indent=2)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e") + "\n"


def document_dict(document: Document) -> dict[str, Any]:
    named = anchors(document)

    def section(item: Section) -> dict[str, Any]:
        return {
            "heading": item.heading,
            "anchor": named[id(item)],
            "blocks": [_BLOCKS[type(block)](block) for block in item.blocks],
            "subsections": [section(sub) for sub in item.subsections],
        }

    return {
        "$schema": SCHEMA_ID,
        "format_version": FORMAT_VERSION,
        "kind": document.kind,
        "title": document.title,
        "subtitle": document.subtitle,
        "period": {"start": _time(document.period_start), "end": _time(document.period_end)},
        "generated_at": _time(document.generated_at),
        "provenance": [{"term": d.term, "description": d.description} for d in document.provenance],
        "sections": [section(item) for item in document.sections],
    }


def _time(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    return value.isoformat()


def _cell(value: Cell) -> str | int | float | None:
    if isinstance(value, (datetime, date)):
        return _time(value)
    return value


def _paragraph(block: Paragraph) -> dict[str, Any]:
    return {"type": "paragraph", "text": block.text}


def _table(block: Table) -> dict[str, Any]:
    return {
        "type": "table",
        "caption": block.caption,
        "columns": list(block.columns),
        "rows": [[_cell(value) for value in row] for row in block.rows],
        "total_rows": block.total_rows if block.total_rows is not None else len(block.rows),
        "held_back": block.held_back,
        "note": block.held_back_note,
    }


def _chart(block: Chart) -> dict[str, Any]:
    return {
        "type": "chart",
        "caption": block.caption,
        "alt": block.alt,
        "y_label": block.y_label,
        "percent": block.percent,
        "x_from": None if block.x_from is None else _time(block.x_from),
        "x_to": None if block.x_to is None else _time(block.x_to),
        "series": [
            {"label": s.label, "points": [{"at": _time(p.at), "value": p.value} for p in s.points]}
            for s in block.series
        ],
    }


def _definitions(block: DefinitionList) -> dict[str, Any]:
    return {
        "type": "definitions",
        "caption": block.caption,
        "items": [{"term": d.term, "description": d.description} for d in block.items],
    }


def _callout(block: Callout) -> dict[str, Any]:
    return {"type": "callout", "kind": block.kind.value, "title": block.title, "text": block.text}


_BLOCKS: dict[type, Callable[[Any], dict[str, Any]]] = {
    Paragraph: _paragraph,
    Table: _table,
    Chart: _chart,
    DefinitionList: _definitions,
    Callout: _callout,
}

"""The output formats by name (``--format html,md,json``) and writing a report's files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from reports.document import Document
from reports.rendering.html import render_html
from reports.rendering.json_output import render_json
from reports.rendering.markdown import render_markdown


@dataclass(frozen=True)
class Format:
    name: str
    extension: str
    render: Callable[[Document], str]


FORMATS = MappingProxyType(
    {
        "html": Format("html", "html", render_html),
        "md": Format("md", "md", render_markdown),
        "json": Format("json", "json", render_json),
    }
)


def render(document: Document, name: str) -> str:
    """The document in the named format; ``ValueError`` naming the formats there are."""
    chosen = FORMATS.get(name)
    if chosen is None:
        raise ValueError(f"format {name!r}: expected one of {', '.join(FORMATS)}")
    return chosen.render(document)


def write_report(document: Document, folder: Path, names: Iterable[str], stem: str | None = None) -> list[Path]:
    """Write the document in each format into ``folder`` as ``<stem>.<ext>``; the paths written.

    Each file goes to a temporary name first and is renamed, so a reader never opens half a report.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        chosen = FORMATS.get(name)
        if chosen is None:
            raise ValueError(f"format {name!r}: expected one of {', '.join(FORMATS)}")
        path = folder / f"{stem or document.kind}.{chosen.extension}"
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(chosen.render(document))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        written.append(path)
    return written

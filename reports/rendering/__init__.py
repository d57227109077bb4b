"""A :class:`reports.document.Document` made into files: HTML (``html``), Markdown (``markdown``),
JSON (``json_output``), the charts as inline SVG (``charts``) and the evidence pack
(``evidence_pack``). Each format escapes every value itself; a builder never writes markup."""

from reports.rendering.formats import FORMATS, Format, render, write_report

__all__ = ["FORMATS", "Format", "render", "write_report"]

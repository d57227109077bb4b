"""Trend charts drawn as inline SVG with matplotlib, for the HTML report.

Agg backend (no display), ``svg.fonttype = none`` so text stays text (selectable, read by screen
readers, no embedded glyph outlines) in the reader's own sans-serif font, and no external font,
image or script. Maths parsing is off: a ``$`` in a label is a dollar, not TeX. Metadata dates
and the id salt are fixed, so the same document gives the same bytes (an evidence pack's hash
means something). Only a chart's few points (one per snapshot) reach Python.
"""

from __future__ import annotations

import io
import re
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402  (after the backend is chosen)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

import reports.rendering.palette as palette  # noqa: E402
from reports.document import Chart  # noqa: E402

_STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.edgecolor": palette.RULE,
    "axes.labelcolor": palette.INK,
    "xtick.color": palette.INK,
    "ytick.color": palette.INK,
    "text.color": palette.INK,
}
_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def chart_svg(chart: Chart, number: int) -> str:
    """The chart as an ``<svg>`` element (no XML prologue or DOCTYPE), ready to inline.

    ``number`` salts the element ids, so two charts in one page never share an id.
    """
    style = dict(_STYLE)
    style["svg.hashsalt"] = f"cyberwell-chart-{number}"
    # matplotlib types rc keys as one Literal of every name; a dict built here is plain str keys.
    with plt.rc_context(style):  # type: ignore[arg-type]
        figure, axes = plt.subplots(figsize=(7.0, 2.8), dpi=72)
        try:
            _draw(axes, chart)
            figure.tight_layout()
            out = io.StringIO()
            figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(figure)
    svg = _PROLOGUE.sub("", out.getvalue(), count=1)
    # The figure is a picture of the data the alt text and the table state: mark it as one image.
    return svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)


def _draw(axes: plt.Axes, chart: Chart) -> None:
    for index, series in enumerate(chart.series):
        colour = palette.SERIES[index % len(palette.SERIES)]
        xs = mdates.date2num([point.at for point in series.points])
        ys = [point.value for point in series.points]
        axes.plot(xs, ys, marker="o", markersize=4, linewidth=1.8, color=colour, label=series.label)
    if chart.percent:
        axes.set_ylim(0, 100)
        axes.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    else:
        axes.set_ylim(bottom=0)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts have no halves
    if chart.x_from is not None and chart.x_to is not None:
        low, high = float(mdates.date2num(chart.x_from)), float(mdates.date2num(chart.x_to))
        pad = (high - low) * 0.02  # a point at either end of the period is drawn whole
        axes.set_xlim(low - pad, high + pad)
    axes.set_ylabel(chart.y_label)
    axes.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=7))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%d %b %Y"))
    axes.grid(axis="y", color="#d0d0d0", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    if len(chart.series) > 1:
        axes.legend(frameon=False, fontsize=9)
    for label in axes.get_xticklabels():
        label.set_rotation(20)
        label.set_horizontalalignment("right")

"""The report's colours, and the WCAG contrast arithmetic that proves them readable.

One place for every colour the HTML and the charts use, so the test of contrast ratios tests
the colours a reader actually sees. Text pairs must reach 4.5:1 (WCAG 2.x AA, normal text);
chart lines and borders, graphics rather than text, 3:1 against the page (WCAG 1.4.11).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

PAGE = "#ffffff"
INK = "#1b1b1b"
MUTED = "#4a4a4a"
LINK = "#1d4f91"
RULE = "#6b6b6b"
HEADER_BG = "#e8ecf2"


@dataclass(frozen=True)
class Tone:
    """A callout's colours: text on background, and its left border."""

    ink: str
    background: str
    border: str


#: By callout kind (``CalloutKind`` values) and verdict words. Each pairs with a word or symbol
#: in the text, so colour is never the only signal.
TONES = MappingProxyType(
    {
        "fail": Tone("#7a1010", "#fdecec", "#b3261e"),
        "automatic fail": Tone("#7a1010", "#fdecec", "#b3261e"),
        "partial": Tone("#5c3d00", "#fff4d6", "#a86b00"),
        "pass": Tone("#0f5223", "#e7f5ea", "#23803c"),
        "attestation": Tone("#1d3f73", "#e8effa", "#2f5fa8"),
        "needs attestation": Tone("#4b2a73", "#f1eafa", "#7046a8"),
        "not evidenced": Tone("#3d3d3d", "#efefef", "#6b6b6b"),
        "manual": Tone("#4b2a73", "#f1eafa", "#7046a8"),
        "note": Tone("#1b1b1b", "#f4f6f8", "#6b6b6b"),
    }
)

#: Chart series, in order: distinguishable and each at least 3:1 against the page.
SERIES = ("#1d4f91", "#b3261e", "#23803c", "#7046a8", "#8a5a00")


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of a ``#rrggbb`` colour."""
    value = colour.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"colour {colour!r}: expected #rrggbb")
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours, from 1 (none) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)

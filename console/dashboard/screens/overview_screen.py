"""The overview: alerts by severity over the last day, what is open, who and what is most
alerted on, and whether collection, detection, the webhook and approvals are keeping up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.events import Resize
from textual.message import Message
from textual.widgets import Header, Static

from console.dashboard.screens import overview_panels as panels
from console.dashboard.screens.footer import KeyBar
from console.dashboard.screens.loading import LoadingScreen
from queries.dashboard.overview import Overview, read_overview
from reports.latest import LatestReport, LatestUnreadable

#: (id, title, what it shows): the panels in reading order.
PANELS: tuple[tuple[str, str, Callable[[Overview], Text]], ...] = (
    ("chart", "Alerts by severity", panels.alert_chart),
    ("open", "Open alerts", panels.open_alerts),
    ("approvals", "Approvals waiting", panels.approvals),
    ("collectors", "Collectors", panels.collectors),
    ("detection", "Detection runs", panels.detection),
    ("webhook", "SOC webhook", panels.webhook),
    (
        "rules",
        "Top rules (open)",
        lambda v: panels.ranked(v.alerts.top_rules, "No open alert.", v.alerts.rules_total, True),
    ),
    ("users", "Users (open alerts)", lambda v: panels.ranked(v.alerts.top_users, "No user in an open alert.")),
    (
        "addresses",
        "Addresses (open alerts)",
        lambda v: panels.ranked(v.alerts.top_addresses, "No address in an open alert."),
    ),
)
#: The last panel, from the report record rather than the store (``reports.latest``).
COMPLIANCE = ("compliance", "Cyber Essentials")
#: Panels side by side from these widths: two from 80 columns, three from 150.
COLUMNS_FROM = ((150, 3), (80, 2))


@dataclass(frozen=True)
class OverviewRead:
    view: Overview
    compliance: LatestReport | LatestUnreadable | None


class OverviewScreen(LoadingScreen[OverviewRead]):
    class Painted(Message):
        """The overview has shown what it read for the first time."""

    painted = False
    #: The last read shown: its alert counts are reused by the next read if no alert changed.
    last: OverviewRead | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="problem")
        with VerticalScroll(id="overview"), Grid(id="panels"):
            for key, title in [(key, title) for key, title, _ in PANELS] + [COMPLIANCE]:
                panel = Static("…", id=f"panel-{key}", classes="panel")
                panel.border_title = title
                yield panel
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#problem", Static).display = False

    def on_resize(self, event: Resize) -> None:
        columns = next((n for width, n in COLUMNS_FROM if event.size.width >= width), 1)
        self.query_one("#panels", Grid).styles.grid_size_columns = columns

    def read(self) -> OverviewRead:
        previous = self.last.view if self.last else None
        view = read_overview(self.ctx.store, self.ctx.clock(), self.ctx.syslog_spools, previous)
        return OverviewRead(view, self.ctx.compliance())

    def show(self, data: OverviewRead) -> None:
        """Only the panels whose text changed are given it: an unchanged panel given its text
        again would still be measured and drawn again (a layout of the whole grid), and one
        whose number of lines stays is drawn again without a layout."""
        self.last = data
        texts = [(key, render(data.view)) for key, _, render in PANELS]
        texts.append((COMPLIANCE[0], panels.compliance(data.compliance)))
        for key, text in texts:
            panel = self.query_one(f"#panel-{key}", Static)
            shown = panel.content
            if not same_text(shown, text):
                # Panels do not wrap: as many lines as before, the same height, no layout.
                lines = shown.plain.count("\n") if isinstance(shown, Text) else -1
                panel.update(text, layout=lines != text.plain.count("\n"))
        self.sub_title = f"overview, read {data.view.read_at:%H:%M:%S} UTC"
        if not self.painted:
            self.painted = True
            self.post_message(self.Painted())


def same_text(shown: object, new: Text) -> bool:
    """What a panel shows is ``new`` already: the same characters, spans and style (rich's
    ``Text ==`` leaves the style out, and a panel greyed when empty changes only that)."""
    return (
        isinstance(shown, Text) and shown.plain == new.plain and shown.spans == new.spans and shown.style == new.style
    )

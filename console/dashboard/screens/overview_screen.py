"""The overview: alerts by severity over the last day, what is open, who and what is most
alerted on, and whether collection, detection, the webhook and approvals are keeping up."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.events import Resize
from textual.message import Message
from textual.widgets import Footer, Header, Static

from console.dashboard.screens import overview_panels as panels
from console.dashboard.screens.loading import LoadingScreen
from queries.dashboard.overview import Overview, read_overview

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
    ("compliance", "Cyber Essentials", panels.compliance),
)
#: Panels side by side from these widths: two from 80 columns, three from 150.
COLUMNS_FROM = ((150, 3), (80, 2))


class OverviewScreen(LoadingScreen[Overview]):
    class Painted(Message):
        """The overview has shown what it read for the first time."""

    painted = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="problem")
        with VerticalScroll(id="overview"), Grid(id="panels"):
            for key, title, _ in PANELS:
                panel = Static("…", id=f"panel-{key}", classes="panel")
                panel.border_title = title
                yield panel
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#problem", Static).display = False

    def on_resize(self, event: Resize) -> None:
        columns = next((n for width, n in COLUMNS_FROM if event.size.width >= width), 1)
        self.query_one("#panels", Grid).styles.grid_size_columns = columns

    def read(self) -> Overview:
        return read_overview(self.ctx.store, self.ctx.clock(), self.ctx.syslog_spools, self.ctx.compliance())

    def show(self, data: Overview) -> None:
        for key, _, render in PANELS:
            self.query_one(f"#panel-{key}", Static).update(render(data))
        self.sub_title = f"overview, read {data.read_at:%H:%M:%S} UTC"
        if not self.painted:
            self.painted = True
            self.post_message(self.Painted())

"""The live sources' health, as ``cyberwell status`` reads it: last success, lag, rate, the last
error, and for a syslog source whether its receiver is running."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Static

from console.dashboard.screens.footer import KeyBar
from console.dashboard.screens.loading import LoadingScreen
from console.dashboard.text import ago, clip, safe
from queries.collector_status import SourceStatus
from queries.dashboard.collector_health import collector_health
from queries.timestamps import parse_iso


class CollectorsScreen(LoadingScreen[tuple[SourceStatus, ...]]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="problem")
        yield DataTable(id="collectors", cursor_type="row", zebra_stripes=True)
        yield Static(id="collectors-note")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#problem", Static).display = False
        table = self.query_one("#collectors", DataTable)
        for label in ("source", "state", "lag", "per min", "runs 1 h", "last success", "last error"):
            table.add_column(label, key=label)
        self.sub_title = "collectors"

    def read(self) -> tuple[SourceStatus, ...]:
        return collector_health(self.ctx.store, self.ctx.syslog_spools, self.ctx.clock())

    def show(self, data: tuple[SourceStatus, ...]) -> None:
        table = self.query_one("#collectors", DataTable)
        table.clear()
        now = self.ctx.clock()
        for source in data:
            if source.failing:
                state = Text("✖ failing", style="bold red")
            elif source.receiver is not None and not source.receiver.running:
                state = Text(f"⚠ receiver {source.receiver.state}", style="yellow")
            else:
                state = Text("✔ ok", style="green")
            since = None if source.last_success is None else (now - parse_iso(source.last_success)).total_seconds()
            table.add_row(
                safe(source.source),
                state,
                Text(ago(source.lag_seconds)),
                Text(f"{source.events_per_minute:g}", justify="right"),
                Text(str(source.runs_last_hour), justify="right"),
                Text("never" if since is None else f"{ago(since)} ago"),
                safe(clip(source.last_error or "", 60), style="red"),
                key=source.source,
            )
        note = (
            "No live source has run yet: cyberwell collect or serve."
            if not data
            else "lag: now minus the newest event stored"
        )
        self.query_one("#collectors-note", Static).update(Text(note, style="dim"))

"""The dashboard application: four screens as Textual modes (each keeps its own stack, so an
alert opened from the queue is still there after a look at the overview), a timer that makes
the screen on view read again, and the rule notes loaded once in the background."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from console.dashboard.commands import DashboardCommands
from console.dashboard.context import DashboardContext
from console.dashboard.screens.approvals_screen import ApprovalsScreen
from console.dashboard.screens.collectors_screen import CollectorsScreen
from console.dashboard.screens.help_screen import HelpScreen
from console.dashboard.screens.loading import LoadingScreen
from console.dashboard.screens.overview_screen import OverviewScreen
from console.dashboard.screens.queue_screen import QueueScreen
from queries.dashboard.alert_detail import alert_detail

SCREENS: dict[str, type[LoadingScreen[Any]]] = {
    "overview": OverviewScreen,
    "alerts": QueueScreen,
    "collectors": CollectorsScreen,
    "approvals": ApprovalsScreen,
}


def _maker(screen: type[LoadingScreen[Any]], ctx: DashboardContext) -> Callable[[], Screen]:
    """A mode's screen is made when first shown, with the shared context."""
    return lambda: screen(ctx)


class DashboardApp(App[None]):
    CSS_PATH = "dashboard.tcss"
    TITLE = "Cyberwell"
    COMMANDS = App.COMMANDS | {DashboardCommands}
    BINDINGS = [
        Binding("1", "show('overview')", "Overview"),
        Binding("2", "show('alerts')", "Alerts"),
        Binding("3", "show('collectors')", "Collectors"),
        Binding("4", "show('approvals')", "Approvals"),
        Binding("r", "refresh_now", "Refresh"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, ctx: DashboardContext, refresh_seconds: float = 5.0) -> None:
        super().__init__()
        self.ctx = ctx
        self.refresh_seconds = refresh_seconds
        for name, screen in SCREENS.items():
            self.add_mode(name, _maker(screen, ctx))

    def on_mount(self) -> None:
        self.switch_mode("overview")
        self.set_interval(self.refresh_seconds, self.action_refresh_now, name="refresh")
        if self.ctx.notes is None:
            self.run_worker(self._load_notes, thread=True, group="notes", exit_on_error=False)

    def on_overview_screen_painted(self) -> None:
        """After the overview's first paint, never before: it must not wait for the read-ahead."""
        self.run_worker(self._read_ahead, thread=True, group="read-ahead", exit_on_error=False)

    def _read_ahead(self) -> None:
        """Read the newest alert's detail once, unseen, while the overview is looked at: the
        event store's first query pays for opening its files (a DuckDB connection, Parquet
        footers), and that should not be the first alert a person opens."""
        with self.ctx.lock:
            if self.ctx.closed:
                return
            newest = self.ctx.store.alerts.list(limit=1)
            if newest:
                alert_detail(self.ctx.store, newest[0].id)

    def _load_notes(self) -> None:
        try:
            notes = self.ctx.load_notes()
        except Exception as error:  # a broken rule folder: the detail says so, the rest works
            self.call_from_thread(self.notify, f"rule notes not loaded: {error}", severity="warning", markup=False)
            notes = {}
        self.ctx.notes = notes
        self.call_from_thread(self.action_refresh_now)

    def action_show(self, mode: str) -> None:
        if mode in SCREENS and mode != self.current_mode:
            self.switch_mode(mode)

    def action_refresh_now(self) -> None:
        """The screen on view reads again (a dialog over it: the screen under the dialog)."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, LoadingScreen):
                screen.reload()
                return

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

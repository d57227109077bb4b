"""A screen that reads the store in a worker thread and shows what it read on the UI thread.

``reload`` starts the read (one at a time per screen: a newer one cancels the wait for an older
one); ``read`` runs in the thread, under the context's lock; ``show`` gets the result on the UI
thread. A failure is shown on the screen's status line and the last good data stays, so a store
that stops answering (Elasticsearch restarting) does not blank the screen.
"""

from __future__ import annotations

import sqlite3
from typing import Generic, TypeVar

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import get_current_worker

from console.dashboard.context import DashboardContext
from console.dashboard.text import safe

Data = TypeVar("Data")


class LoadingScreen(Screen[None], Generic[Data]):
    def __init__(self, ctx: DashboardContext) -> None:
        super().__init__()
        self.ctx = ctx

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.run_worker(self._load, thread=True, exclusive=True, group="load", exit_on_error=False)

    def _load(self) -> None:
        try:
            with self.ctx.lock:
                if self.ctx.closed:
                    return
                data = self.read()
        except Exception as error:  # shown, not raised: the dashboard keeps its last good data
            message = problem_text(error)
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self.show_problem, message)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._shown, data)

    def _shown(self, data: Data) -> None:
        self.show(data)
        self.show_problem(None)

    def read(self) -> Data:
        raise NotImplementedError

    def show(self, data: Data) -> None:
        raise NotImplementedError

    def show_problem(self, message: str | None) -> None:
        """The screen's status line: the last failure, or nothing."""
        for line in self.query("#problem").results(Static):
            line.update(Text("") if message is None else safe(message, style="bold red"))
            line.display = message is not None


def problem_text(error: Exception) -> str:
    """What went wrong, without a secret: a local error (the state database, a file) says what
    it says; any other (the Elasticsearch client's) only its kind, since a refused header's
    message can hold the header's value, an API key."""
    said = f": {error}" if isinstance(error, sqlite3.Error | OSError) else ""
    return f"could not read the store ({type(error).__name__}{said}); trying again at the next refresh"

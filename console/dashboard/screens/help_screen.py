"""``?``: every key of the dashboard, by screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Everywhere", (
        ("1 2 3 4", "overview, alert queue, collectors, approvals"),
        ("r", "read again now (it also refreshes by itself)"),
        ("ctrl+p", "command palette: screens, filters, theme"),
        ("?", "this help"),
        ("q", "quit"),
    )),
    ("Alert queue", (
        ("/", "search (title, user, address, id, assignee)"),
        ("f", "filters: severity, status, rule, entity, since (24h, 7d)"),
        ("tab", "next filter; escape: back to the table"),
        ("enter", "open the alert"),
    )),
    ("Alert", (
        ("k", "acknowledge"),
        ("u", "assign (blank: nobody)"),
        ("c", "close: true positive, false positive or benign, with a note"),
        ("n", "add a note"),
        ("x", "false positive: write an exception with an expiry, and close"),
        ("↑ ↓", "matched events; the raw record follows the cursor"),
        ("escape", "back to the queue"),
    )),
    ("Approvals", (("y", "approve the step (asks to confirm)"), ("d", "deny it, with a reason (asks to confirm)"))),
)  # fmt: skip


def help_text() -> Text:
    out = Text()
    for title, keys in KEYS:
        out.append(f"{title}\n", style="bold underline")
        for key, what in keys:
            out.append(f"  {key:<8}", style="bold")
            out.append(f" {what}\n")
    out.append("Severity reads ‼ CRIT, ▲ HIGH, ◆ MED, ▽ LOW, · INFO; status ● new, ◐ ack, ○ closed.")
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Static(help_text())
            yield Static(Text("escape or ?: close", style="dim"))

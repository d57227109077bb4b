"""The small questions triage and approval ask: yes or no, a line of text, why an alert is
closed, and what an exception says. Each is a modal screen answered from the keyboard (Enter to
go on, Escape to leave it), returning None when left."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from console.dashboard.triage import CLOSE_REASONS


class Dialog(ModalScreen[object]):
    BINDINGS = [Binding("escape", "leave", "Cancel")]

    def action_leave(self) -> None:
        self.dismiss(None)


class Confirm(Dialog):
    """``question`` (a Text: parts of it may come from logs) answered with y or n."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n", "answer(False)", "No")]

    def __init__(self, question: Text) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question)
            yield Static(Text("y: yes   n or Escape: no", style="bold"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class Ask(Dialog):
    """One line of text; Enter with it blank is refused unless ``blank_ok``."""

    def __init__(self, question: str, placeholder: str = "", value: str = "", blank_ok: bool = False) -> None:
        super().__init__()
        self.question, self.placeholder, self.value, self.blank_ok = question, placeholder, value, blank_ok

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question))
            yield Input(value=self.value, placeholder=self.placeholder, id="answer")
            yield Static(Text("Enter: save   Escape: cancel", style="dim"))

    @on(Input.Submitted, "#answer")
    def answered(self, event: Input.Submitted) -> None:
        if event.value.strip() or self.blank_ok:
            self.dismiss(event.value.strip())


@dataclass(frozen=True)
class Closing:
    reason: str
    note: str


class CloseAlert(Dialog):
    """Pick the reason (Enter), then an optional note (Enter again)."""

    reason: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Close the alert as:"))
            yield OptionList(*(Option(words, id=reason) for reason, words in CLOSE_REASONS.items()), id="reasons")
            yield Input(placeholder="note (optional), Enter to close", id="note")

    @on(OptionList.OptionSelected, "#reasons")
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.reason = event.option.id
        self.query_one("#note", Input).focus()

    @on(Input.Submitted, "#note")
    def noted(self, event: Input.Submitted) -> None:
        if self.reason is None:
            self.query_one("#reasons", OptionList).focus()
            return
        self.dismiss(Closing(self.reason, event.value.strip()))


@dataclass(frozen=True)
class ExceptionAsked:
    reason: str
    days: int


class MakeException(Dialog):
    """Why the alert's events are allowed, and for how many days; ``summary`` says what the
    exception will match (from the alert, so shown as text)."""

    def __init__(self, summary: Text) -> None:
        super().__init__()
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.summary)
            yield Input(placeholder="why these events are fine", id="reason")
            yield Input(value="30", placeholder="days until it expires", id="days")
            yield Static(Text("Enter on days: write the exception and close as false positive", style="dim"), id="hint")

    @on(Input.Submitted, "#reason")
    def next_field(self) -> None:
        self.query_one("#days", Input).focus()

    @on(Input.Submitted, "#days")
    def done(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        days = self.query_one("#days", Input).value.strip()
        hint = self.query_one("#hint", Static)
        if not reason:
            hint.update(Text("A reason is needed: who owns this risk, and why.", style="bold red"))
            self.query_one("#reason", Input).focus()
        elif not days.isdigit() or not 1 <= int(days) <= 366:
            hint.update(Text("Days: a whole number from 1 to 366.", style="bold red"))
        else:
            self.dismiss(ExceptionAsked(reason, int(days)))

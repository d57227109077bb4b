"""One alert, shown in place of the queue's table: what it is, what to do about it, its history,
the events it matched with their raw records, and its user's or address's timeline across every
source; and the triage keys.

A pane of the queue screen rather than a screen of its own: it is built once with the queue and
each alert opened fills the same widgets, so opening an alert costs the store's read and a paint,
never building and mounting a screen (which was most of the time it took to open the first one).
The pane is shown once it is filled (``on_ready``): a pane of "…" shown while the store reads was a
second layout and paint, on the same two cores as the read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from console.dashboard import triage
from console.dashboard.context import DashboardContext
from console.dashboard.screens.dialogs import Ask, CloseAlert, Closing, ExceptionAsked, MakeException
from console.dashboard.screens.loading import problem_text
from console.dashboard.text import clip, safe, severity, status, when
from queries.dashboard.alert_detail import AlertDetail, EventLine, alert_detail
from queries.dashboard.alert_queue import entity_text

#: Timeline lines shown per entity (the query holds up to TIMELINE_SHOWN; the rest are counted).
TIMELINE_LINES = 20


class DetailPane(Vertical):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("k", "acknowledge", "Ack"),
        Binding("u", "assign", "Assign"),
        Binding("c", "close_alert", "Close"),
        Binding("n", "note", "Note"),
        Binding("x", "make_exception", "False pos.→exception"),
    ]

    class Back(Message):
        """The person is done with the alert: the queue shows its table again."""

    detail: AlertDetail | None = None
    alert_id = ""

    def __init__(self, ctx: DashboardContext, on_ready: Callable[[], None], id: str | None = None) -> None:
        """``on_ready`` is called once the alert asked for by ``open`` is in the pane (or why it
        could not be read), in the same callback as the filling: the pane is shown filled, in
        one layout and one paint (a message would be another trip through the queues)."""
        super().__init__(id=id)
        self.ctx = ctx
        self.on_ready = on_ready

    def compose(self) -> ComposeResult:
        yield Static(id="detail-problem")
        with VerticalScroll(id="detail"):
            for key, title in (("summary", "Alert"), ("todo", "What to do"), ("history", "History")):
                section = Static(id=key, classes="section")
                section.border_title = title
                yield section
            events: DataTable[Text] = DataTable(id="events", cursor_type="row")
            events.border_title = "Matched events (↑↓ shows the raw record)"
            yield events
            for key, title in (("raw", "Raw record (event.original)"), ("timeline", "Timeline, every source")):
                section = Static(id=key, classes="section")
                section.border_title = title
                yield section

    def on_mount(self) -> None:
        self.query_one("#detail-problem", Static).display = False
        table = self.query_one("#events", DataTable)
        for label in ("time", "dataset", "what"):
            table.add_column(label, key=label)

    #: An alert was asked for and has not been shown yet.
    opening = False

    def open(self, alert_id: str) -> None:
        """Read another alert; ``on_ready`` follows once it is in the pane. The pane stays hidden
        until then, so no layout or paint competes with the read (one measured and drawn pane
        of "…" cost as much as the filled one). What the last alert showed is replaced when
        this one comes, or cleared if it cannot be read: never shown as this one's."""
        self.alert_id, self.detail, self.opening = alert_id, None, True
        self.reload()

    def _clear(self) -> None:
        for key in ("summary", "todo", "history", "raw", "timeline"):
            self.query_one(f"#{key}", Static).update(Text("…"))
        self.query_one("#events", DataTable).clear()

    def cancel_opening(self) -> None:
        """The person went on with the table before the alert came: it does not pop up later."""
        self.opening = False

    def _ready(self) -> None:
        if self.opening:
            self.opening = False
            self.on_ready()

    def action_back(self) -> None:
        self.opening = False
        self.post_message(self.Back())

    # -- reading, as the screens read (console.dashboard.screens.loading) --------------------------

    def reload(self) -> None:
        self.run_worker(self._load, thread=True, exclusive=True, group="detail", exit_on_error=False)

    def _load(self) -> None:
        try:
            with self.ctx.lock:
                if self.ctx.closed:
                    return
                data = alert_detail(self.ctx.store, self.alert_id)
        except Exception as error:  # shown, not raised: the last good detail stays
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._failed, problem_text(error))
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._shown, data)

    def _shown(self, data: AlertDetail | None) -> None:
        self.show(data)
        self.show_problem(None)
        self._ready()

    def _failed(self, message: str) -> None:
        if self.detail is None or self.detail.alert.id != self.alert_id:
            self._clear()  # the last alert's sections must not pass for this one's
        self.show_problem(message)
        self._ready()

    def show_problem(self, message: str | None) -> None:
        line = self.query_one("#detail-problem", Static)
        line.update(Text("") if message is None else safe(message, style="bold red"))
        line.display = message is not None

    def show(self, data: AlertDetail | None) -> None:
        self.detail = data
        if data is None:
            self._clear()
            self.query_one("#summary", Static).update(safe(f"There is no alert {self.alert_id}."))
            return
        self.query_one("#summary", Static).update(summary(data))
        self.query_one("#todo", Static).update(self._note(data.alert.rule_id))
        self.query_one("#history", Static).update(history(data))
        table = self.query_one("#events", DataTable)
        table.clear()
        for number, line in enumerate(data.events):
            table.add_row(Text(when(line.timestamp)), safe(line.dataset), safe(clip(_what(line), 70)), key=str(number))
        self.query_one("#raw", Static).update(raw(data.events[0] if data.events else None))
        self.query_one("#timeline", Static).update(timeline(data))

    def _note(self, rule_id: str) -> Text:
        if self.ctx.notes is None:
            return Text("Loading the rules' notes…", style="dim")
        note = self.ctx.notes.get(rule_id)
        return safe(note, one_line=False) if note else Text("The rule has no what-to-do note.", style="dim")

    @on(DataTable.RowHighlighted, "#events")
    def event_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.detail is not None and event.row_key.value is not None:
            self.query_one("#raw", Static).update(raw(self.detail.events[int(event.row_key.value)]))

    # -- triage -------------------------------------------------------------------------------

    def action_acknowledge(self) -> None:
        self._change("acknowledged", lambda: triage.acknowledge(self.ctx.store, self.alert_id, self.ctx.actor))

    def action_assign(self) -> None:
        def assigned(answer: object) -> None:
            if isinstance(answer, str):
                self._change(
                    f"assigned to {answer or 'nobody'}",
                    lambda: triage.assign(self.ctx.store, self.alert_id, answer, self.ctx.actor),
                )

        current = self.detail.assignee if self.detail else None
        self.app.push_screen(Ask("Assign to (blank: nobody):", "a name", current or "", blank_ok=True), assigned)

    def action_close_alert(self) -> None:
        def closing(answer: object) -> None:
            if isinstance(answer, Closing):
                self._change(
                    f"closed ({triage.CLOSE_REASONS[answer.reason]})",
                    lambda: triage.close(self.ctx.store, self.alert_id, answer.reason, self.ctx.actor, answer.note),
                )

        self.app.push_screen(CloseAlert(), closing)

    def action_note(self) -> None:
        def noted(answer: object) -> None:
            if isinstance(answer, str) and answer:
                self._change(
                    "note added", lambda: triage.add_note(self.ctx.store, self.alert_id, answer, self.ctx.actor)
                )

        self.app.push_screen(Ask("Note for the alert's history:", "what you found or did"), noted)

    def action_make_exception(self) -> None:
        if self.detail is None:
            return
        alert = self.detail.alert
        summary_text = Text("False positive: write an exception for rule ")
        summary_text.append_text(safe(clip(alert.rule_title, 50)))
        summary_text.append(" where ")
        summary_text.append_text(safe(clip(entity_text(alert.group_keys), 80)))
        summary_text.append(f", owned by {self.ctx.actor}, and close the alert as a false positive.")

        def asked(answer: object) -> None:
            if isinstance(answer, ExceptionAsked):
                today = self.ctx.clock().date()
                expires = today + timedelta(days=answer.days)
                self._change(
                    f"exception written, expires {expires.isoformat()}",
                    lambda: triage.except_false_positive(
                        self.ctx.store, alert, self.ctx.exceptions_folder, self.ctx.actor, answer.reason, expires, today
                    ),
                )

        self.app.push_screen(MakeException(summary_text), asked)

    def _change(self, done: str, change: Callable[[], object]) -> None:
        """Run ``change`` in a worker; say what happened, or why not; then read the alert again."""

        def work() -> None:
            try:
                with self.ctx.lock:
                    if self.ctx.closed:
                        return
                    change()
            except (ValueError, KeyError) as error:
                self.app.call_from_thread(self.notify, str(error), severity="error", markup=False)
                return
            self.app.call_from_thread(self.notify, done, markup=False)
            self.app.call_from_thread(self.reload)

        self.run_worker(work, thread=True, group="triage", exit_on_error=False)


def summary(data: AlertDetail) -> Text:
    alert = data.alert
    out = Text()
    out.append_text(severity(alert.severity, wide=True))
    out.append("  ")
    out.append_text(safe(alert.rule_title, style="bold"))
    out.append("\n")
    out.append_text(status(alert.status))
    out.append("   assigned to ")
    out.append_text(safe(data.assignee or "nobody"))
    out.append("\nentity  ")
    out.append_text(safe(entity_text(alert.group_keys)))
    out.append(f"\nevents  {alert.event_count}, {when(alert.first_seen)} to {when(alert.last_seen)} UTC")
    out.append(f"\nid      {alert.id[:16]}…  rule {alert.rule_id}", style="dim")
    return out


def history(data: AlertDetail) -> Text:
    if not data.history:
        return Text("No change yet: raised by detection, status new.", style="dim")
    out = Text()
    for change in data.history:
        out.append(f"{when(change.at)} ")
        out.append_text(safe(change.actor))
        moved = change.previous != change.status
        out.append(f": {change.previous} → {change.status}" if moved else ":")
        if change.reason:
            out.append(f" ({triage.CLOSE_REASONS.get(change.reason, change.reason)})")
        if change.note:
            out.append(" ")
            out.append_text(safe(change.note))
        out.append("\n")
    out.rstrip()
    return out


def raw(line: EventLine | None) -> Text:
    if line is None or line.original is None:
        return Text("The matched events are not in the store (deleted by retention?).", style="dim")
    out = safe(line.original, one_line=False)
    if line.original_chars > len(line.original):
        out.append(f"\n… {line.original_chars - len(line.original)} more characters", style="dim")
    return out


def timeline(data: AlertDetail) -> Text:
    if not data.timelines:
        return Text("The alert has no user or address to follow.", style="dim")
    out = Text()
    for entity in data.timelines:
        out.append_text(safe(f"{entity.field} = {entity.value}", style="bold"))
        sources = ", ".join(f"{name} {count}" for name, count in entity.per_dataset) or "no events"
        window = f"{when(entity.start)} to {when(entity.end)}" + (" (narrowed: busy)" if entity.narrowed else "")
        out.append(f"\n{window}: {entity.total} events ({sources})\n", style="dim")
        for line in entity.lines[:TIMELINE_LINES]:
            out.append(f"{line.timestamp:%m-%d %H:%M:%S} ")
            out.append_text(safe(clip(f"{line.dataset} {_what(line)}", 100)))
            out.append("\n")
        hidden = entity.total - min(len(entity.lines), TIMELINE_LINES)
        if hidden > 0:
            out.append(f"… {hidden} more events not shown\n", style="dim")
    out.rstrip()
    return out


def _what(line: EventLine) -> str:
    return " ".join(f"{name}={value}" for name, value in line.summary) or line.event_id

"""Playbook runs waiting for a person: the step, its action and the arguments it will run with;
``y`` approves and ``d`` denies, each after a confirmation, through ``PlaybookRuns.decide``
(which keeps who, when and why, and writes the audit trail)."""

from __future__ import annotations

import json

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from console.dashboard.screens.dialogs import Ask, Confirm
from console.dashboard.screens.footer import KeyBar
from console.dashboard.screens.loading import LoadingScreen
from console.dashboard.text import clip, safe
from queries.playbook_runs import RunFilter, RunListing, list_runs
from store.state.playbook_run_records import RunRecord
from store.state.playbook_runs import PlaybookRuns

SHOWN = 200


class ApprovalsScreen(LoadingScreen[RunListing]):
    BINDINGS = [Binding("y", "decide(True)", "Approve"), Binding("d", "decide(False)", "Deny")]

    listing: RunListing | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="problem")
        yield DataTable(id="approvals", cursor_type="row", zebra_stripes=True)
        yield Static(id="arguments", classes="section")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#problem", Static).display = False
        table = self.query_one("#approvals", DataTable)
        for label in ("run", "playbook", "step", "action", "alert", "dry run", "waiting since"):
            table.add_column(label, key=label)
        self.query_one("#arguments", Static).border_title = "Arguments the step will run with"
        self.sub_title = "approvals waiting"

    def read(self) -> RunListing:
        return list_runs(self.ctx.store.state, RunFilter(state="awaiting_approval"), limit=SHOWN)

    def show(self, data: RunListing) -> None:
        self.listing = data
        table = self.query_one("#approvals", DataTable)
        table.clear()
        for run in data.runs:
            step = run.awaiting()
            table.add_row(
                Text(f"#{run.id}"),
                safe(clip(run.playbook, 24)),
                safe(clip(step.name if step else "?", 28)),
                safe(step.action if step else "?"),
                safe(run.alert_id[:12]),
                Text("yes" if run.dry_run else "no"),
                Text(run.updated_at[:16].replace("T", " ")),
                key=str(run.id),
            )
        if not data.runs:
            self.query_one("#arguments", Static).update(Text("No playbook step is waiting for approval.", style="dim"))
        else:
            self._show_arguments(data.runs[min(table.cursor_row, len(data.runs) - 1)])

    @on(DataTable.RowHighlighted, "#approvals")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        run = self._run(event.row_key.value)
        if run is not None:
            self._show_arguments(run)

    def _show_arguments(self, run: RunRecord) -> None:
        step = run.awaiting()
        arguments = json.dumps(step.arguments if step else {}, indent=2, ensure_ascii=False, sort_keys=True)
        self.query_one("#arguments", Static).update(safe(arguments, one_line=False))

    def _run(self, key: str | None) -> RunRecord | None:
        if self.listing is None or key is None:
            return None
        return next((run for run in self.listing.runs if str(run.id) == key), None)

    def action_decide(self, approve: bool) -> None:
        table = self.query_one("#approvals", DataTable)
        if self.listing is None or not self.listing.runs:
            return
        run = self.listing.runs[min(table.cursor_row, len(self.listing.runs) - 1)]
        step = run.awaiting()
        if step is None:
            return
        question = Text(f"{'Approve' if approve else 'Deny'} step ")
        question.append_text(safe(step.name, style="bold"))
        question.append(" (")
        question.append_text(safe(step.action))
        question.append(f") of playbook run #{run.id} (")
        question.append_text(safe(run.playbook))
        question.append(")?")

        def confirmed(yes: object, reason: str = "") -> None:
            if yes is True:
                self._decide(run.id, step.name, approve, reason)

        if approve:
            self.app.push_screen(Confirm(question), confirmed)
            return

        def reasoned(reason: object) -> None:
            if isinstance(reason, str):
                self.app.push_screen(Confirm(question), lambda yes: confirmed(yes, reason))

        self.app.push_screen(Ask("Why deny it? (kept in the audit trail)", "reason"), reasoned)

    def _decide(self, run_id: int, step: str, approve: bool, reason: str) -> None:
        def work() -> None:
            try:
                with self.ctx.lock:
                    if self.ctx.closed:
                        return
                    PlaybookRuns(self.ctx.store.state).decide(run_id, self.ctx.actor, approve, reason, step=step)
            except (LookupError, ValueError) as error:  # decided meanwhile by someone else
                self.app.call_from_thread(self.notify, str(error), severity="error", markup=False)
            else:
                said = f"run #{run_id}: step {step} {'approved' if approve else 'denied'}"
                self.app.call_from_thread(self.notify, said, markup=False)
            self.app.call_from_thread(self.reload)

        self.run_worker(work, thread=True, group="decide", exit_on_error=False)

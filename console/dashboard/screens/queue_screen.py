"""The alert queue: filters (severity, status, rule, entity, since) and a search over a table of
alerts, newest first; Enter shows an alert's detail in place of the table, escape the table again."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Header, Input, Select, Static
from textual.widgets.data_table import CellDoesNotExist

from console.dashboard.screens.detail_pane import DetailPane
from console.dashboard.screens.footer import KeyBar
from console.dashboard.screens.loading import LoadingScreen
from console.dashboard.text import clip, safe, severity, status, when
from queries.dashboard.alert_queue import STATUS_CHOICES, AlertQueue, QueueFilter, QueueRow, alert_queue
from store.state.alert_record import SEVERITIES

#: The ids of what the queue screen shows: its table (with the filters), or one alert.
TABLE, DETAIL = "queue-view", "alert-detail"
#: Alerts the table holds; the line under it says how many more match.
QUEUE_LIMIT = 500
_SINCE_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def parse_since(text: str) -> timedelta | None:
    """``90m``, ``24h``, ``7d`` as a span back from now; blank: no limit. ``ValueError`` else."""
    text = text.strip().lower()
    if not text:
        return None
    number, unit = text[:-1], text[-1:]
    if unit not in _SINCE_UNITS or not number.isdigit():
        raise ValueError(f"since: expected a number and m, h or d (90m, 24h, 7d), got {text!r}")
    return int(number) * _SINCE_UNITS[unit]


class QueueScreen(LoadingScreen[AlertQueue]):
    AUTO_FOCUS = "#queue"
    BINDINGS = [
        Binding("slash", "focus('#search')", "Search"),
        Binding("f", "focus('#severity')", "Filters"),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    which = QueueFilter()
    #: The rows the table holds and the column widths they were cut to.
    shown_rows: tuple[tuple[QueueRow, ...], tuple[int, int]] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with ContentSwitcher(initial=TABLE, id="switcher"):
            with Vertical(id=TABLE):
                with Horizontal(classes="filters"):
                    yield Input(placeholder="/ search", id="search", compact=True)
                    yield Select(
                        [(f"{severity(level).plain}+", level) for level in reversed(SEVERITIES)],
                        prompt="severity",
                        id="severity",
                        compact=True,
                    )
                    yield Select(
                        [(choice, choice) for choice in STATUS_CHOICES],
                        value="open",
                        prompt="any status",
                        id="status",
                        compact=True,
                    )
                with Horizontal(classes="filters"):
                    yield Input(placeholder="rule", id="rule", compact=True)
                    yield Input(placeholder="entity (user, address)", id="entity", compact=True)
                    yield Input(placeholder="since: 24h", id="since", compact=True)
                yield Static(id="problem")
                yield DataTable(id="queue", cursor_type="row", zebra_stripes=True)
                yield Static(id="queue-count")
            yield DetailPane(self.ctx, self.show_alert, id=DETAIL)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#problem", Static).display = False
        table = self.query_one("#queue", DataTable)
        for label, key in (("sev", "severity"), ("status", "status"), ("rule", "rule"), ("entity", "entity"),
                           ("last seen", "last"), ("events", "events"), ("assignee", "assignee")):  # fmt: skip
            table.add_column(label, key=key)
        self.sub_title = "alert queue"

    def action_focus_table(self) -> None:
        self.query_one(f"#{DETAIL}", DetailPane).cancel_opening()
        self.query_one("#queue", DataTable).focus()

    def read(self) -> AlertQueue:
        return alert_queue(self.ctx.store, self.which, QUEUE_LIMIT)

    def show(self, data: AlertQueue) -> None:
        """The table is rebuilt only when its rows changed: a refresh (every few seconds, and on
        each return from an alert) that finds the same 500 alerts keeps the table as it is."""
        # From 120 columns the rule and the entity get 40 characters each; below, what fits 80.
        widths = (40, 40) if self.size.width >= 120 else (30, 26)
        if self.shown_rows != (data.rows, widths):
            self._fill(data.rows, widths)
            self.shown_rows = (data.rows, widths)
        held = f", {data.held_back} more not shown (narrow the filters)" if data.held_back else ""
        self.query_one("#queue-count", Static).update(Text(f"{len(data.rows)} of {data.total} alerts{held}"))

    def _fill(self, rows: tuple[QueueRow, ...], widths: tuple[int, int]) -> None:
        table = self.query_one("#queue", DataTable)
        keep = _current_key(table)
        table.clear()
        rule_width, entity_width = widths
        for row in rows:
            table.add_row(
                severity(row.severity),
                status(row.status),
                safe(clip(row.rule_title, rule_width)),
                safe(clip(row.entity, entity_width)),
                Text(when(row.last_seen)),
                Text(str(row.event_count), justify="right"),
                safe(row.assignee or ""),
                key=row.id,
            )
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))

    # -- filters ------------------------------------------------------------------------------

    @on(Input.Submitted)
    @on(Input.Changed)
    @on(Select.Changed)
    def filters_changed(self) -> None:
        try:
            since = parse_since(self.query_one("#since", Input).value)
        except ValueError as error:
            self.show_problem(str(error))
            return
        self.which = QueueFilter(
            severity_at_least=_chosen(self.query_one("#severity", Select)),
            status=_chosen(self.query_one("#status", Select)),
            rule=self.query_one("#rule", Input).value or None,
            entity=self.query_one("#entity", Input).value or None,
            since=None if since is None else self.ctx.clock() - since,
            search=self.query_one("#search", Input).value or None,
        )
        self.reload()

    @on(DataTable.RowSelected, "#queue")
    def open_alert(self, event: DataTable.RowSelected) -> None:
        """The alert in place of the table: the pane was built with the screen, so opening an
        alert is its read and a paint (and the filters and the cursor are there on the way back).
        The table stays until the pane is filled (``show_alert``)."""
        if event.row_key.value is None:
            return
        self.query_one(f"#{DETAIL}", DetailPane).open(event.row_key.value)

    def show_alert(self) -> None:
        """The pane has the alert (``DetailPane.on_ready``): it takes the table's place."""
        pane = self.query_one(f"#{DETAIL}", DetailPane)
        self.query_one("#switcher", ContentSwitcher).current = DETAIL
        pane.query_one("#events", DataTable).focus()
        self.sub_title = "alert detail"
        self.refresh_bindings()

    @on(DetailPane.Back)
    def back_to_table(self) -> None:
        self.query_one("#switcher", ContentSwitcher).current = TABLE
        self.query_one("#queue", DataTable).focus()
        self.sub_title = "alert queue"
        self.refresh_bindings()
        self.reload()  # the alert may have been triaged meanwhile

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The search and filter keys belong to the table: with an alert open they are hidden
        (and do nothing: False, where None would show them greyed) rather than moving the focus
        to a filter no one can see."""
        return not (action in ("focus", "focus_table") and self.is_mounted and self.showing_alert)

    @property
    def showing_alert(self) -> bool:
        """Whether an alert is open; False while the screen is still putting its widgets in place
        (a refresh can come between its mount and its children's)."""
        switcher = next(iter(self.query("#switcher").results(ContentSwitcher)), None)
        return switcher is not None and switcher.current == DETAIL

    def reload(self) -> None:
        """What is on view reads again: the alert when one is open, else the queue (also while
        the screen takes its widgets down and the alert's pane is already gone)."""
        pane = next(iter(self.query(f"#{DETAIL}").results(DetailPane)), None)
        if self.is_mounted and self.showing_alert and pane is not None:
            pane.reload()
        else:
            super().reload()


def _chosen(select: Select) -> str | None:
    value = select.value
    return value if isinstance(value, str) else None


def _current_key(table: DataTable) -> str | None:
    if table.row_count == 0:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except CellDoesNotExist:  # the cursor is outside the rows
        return None

"""A progress bar on stderr for work that takes a while: an ingest, a backfill, a report.

It appears only when the work has run for :data:`SHOW_AFTER` seconds (a quick command prints
nothing extra), only when both stdout and stderr are a terminal (a pipe, a file or a script
reading ``--json`` gets the answer and nothing else), and it is gone when the work ends, so the
table that follows starts on a clean line. ``CYBERWELL_PROGRESS`` overrides the terminal check:
``never`` (no bar) or ``always`` (a bar even on a pipe: for a terminal program that is not
seen as one, such as a recording or a CI log viewer).

    with progress.bar("Ingesting", total=len(paths), enabled=not as_json) as meter:
        ingest(store, paths, kind, on_progress=lambda done: meter.update(done.files_done, done.detail))
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from console import render

#: Seconds of work before the bar appears.
SHOW_AFTER = 1.0
#: ``auto`` (the default: a bar when stdout and stderr are terminals), ``always`` or ``never``.
MODE_VARIABLE = "CYBERWELL_PROGRESS"
MODES = ("auto", "always", "never")


class Meter:
    """What the work reports to: how far it is, and a few words on what it is doing. Without a
    bar (not a terminal, ``--json``) it keeps nothing and shows nothing."""

    def __init__(self, progress: Progress | None, what: str, total: float | None) -> None:
        self._progress = progress
        self._task = progress.add_task(what, total=total, detail="") if progress is not None else None

    def update(self, completed: float, detail: str = "") -> None:
        if self._progress is not None and self._task is not None:
            # a value from a log (a file name) is shown as text: markup off, controls visible
            self._progress.update(self._task, completed=completed, detail=render.visible(detail))

    def advance(self, detail: str = "") -> None:
        """One more step done."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, detail=render.visible(detail))


@contextmanager
def bar(what: str, total: float | None, enabled: bool = True) -> Iterator[Meter]:
    """A meter for work of ``total`` steps (None: not known, the bar pulses); its bar is drawn on
    stderr once the work has taken :data:`SHOW_AFTER` seconds, and erased when it ends."""
    console = _terminal() if enabled else None
    if console is None:
        yield Meter(None, what, total)
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}", markup=False),
        console=console,
        transient=True,
    )
    timer = threading.Timer(SHOW_AFTER, progress.start)
    timer.daemon = True
    if SHOW_AFTER > 0:
        timer.start()
    else:
        progress.start()  # no wait asked for: drawn before the work begins
    try:
        yield Meter(progress, what, total)
    finally:
        timer.cancel()
        if timer.is_alive():
            timer.join()  # it was starting the bar as the work ended: let it, then stop it
        if progress.live.is_started:
            progress.stop()


def _terminal() -> Console | None:
    """Where the bar goes, or None when there is to be no bar."""
    mode = os.environ.get(MODE_VARIABLE, "auto").strip().lower()
    if mode == "never":
        return None
    if mode == "always":
        return Console(stderr=True, force_terminal=True)
    if mode != "auto":
        render.warning(f"{MODE_VARIABLE}={mode!r} is not one of {', '.join(MODES)}: taken as auto")
    return render.errors if render.errors.is_terminal and render.console.is_terminal else None

"""Response: playbooks that act on alerts (docs/playbooks.md), the actions they call.

What the console wires: ``load_playbooks`` (the files and their problems), ``queue_runs`` (from the
alerts a detection run made), ``start_run`` (a person's ``playbook run``), ``PlaybookRunner`` (runs
what is due), and ``PlaybookRuns`` for approving, denying, cancelling and listing runs.
"""

from pathlib import Path

from playbooks.definition import Playbook, Step, Trigger
from playbooks.loading import PlaybookProblem, load_playbooks
from playbooks.queueing import queue_runs, start_run
from playbooks.runner import Backoff, PlaybookRunner
from playbooks.trigger import triggered
from store.state.playbook_runs import PlaybookRuns, RunRecord, StepRecord

#: The shipped playbooks (docs/playbooks.md lists them).
LIBRARY = Path(__file__).parent / "library"

__all__ = [
    "LIBRARY",
    "Backoff",
    "Playbook",
    "PlaybookProblem",
    "PlaybookRunner",
    "PlaybookRuns",
    "RunRecord",
    "Step",
    "StepRecord",
    "Trigger",
    "load_playbooks",
    "queue_runs",
    "start_run",
    "triggered",
]

"""The values an option may take, as choices typer checks and ``--help`` lists.

Each choice is a ``Literal`` built from the tuple its room keeps (the source kinds of the parser
registry, the alert statuses of the state database...), so a new source kind or run state is a
new choice without an edit here. The type checker sees ``str``: the values are the room's to
know, and the commands pass them on as they are.

When typer refuses a value, :func:`refusal` words it as the commands word their own errors:
``--severity: unknown severity 'severe'; expected one of: informational, low, ...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from collectors.formats.registry import SOURCE_KINDS
from store.state.alert_record import SEVERITIES
from store.state.alerts import CLOSING_REASONS, STATUSES
from store.state.audit import AUDIT_KINDS
from store.state.playbook_run_records import RUN_STATES

STORE_BACKENDS = ("embedded", "elasticsearch")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

if TYPE_CHECKING:
    SourceKind = str
    Severity = str
    AlertStatus = str
    CloseReason = str
    RunState = str
    StoreBackend = str
    LogLevel = str
    AuditKind = str
else:  # typer reads the choices from the Literal at run time
    SourceKind = Literal[SOURCE_KINDS]
    Severity = Literal[SEVERITIES]
    AlertStatus = Literal[STATUSES]
    CloseReason = Literal[CLOSING_REASONS]
    RunState = Literal[RUN_STATES]
    StoreBackend = Literal[STORE_BACKENDS]
    LogLevel = Literal[LOG_LEVELS]
    AuditKind = Literal[AUDIT_KINDS]

#: Options whose refusal names the kind of thing refused (``unknown source kind 'splunk'``); the
#: others say what they expected (``--state: expected one of queued, ..., got 'stuck'``).
NOUNS = {"--source": "source kind", "--severity": "severity"}


def metavar(choices: Sequence[str]) -> str:
    """``[low|medium|high]``: how ``--help`` shows an option's choices."""
    return "[" + "|".join(choices) + "]"


def refusal(option: str | None, choices: Sequence[str] | None, error: BaseException) -> str | None:
    """The one-line error for a value typer refused as not one of ``choices``, in the words
    the commands used before typer checked the choices (scripts may match them); None when the
    error was about something else (a number that is not a number keeps typer's words)."""
    cause = error.__cause__
    if option is None or not choices or not isinstance(cause, ValidationError) or not cause.errors():
        return None
    value = cause.errors()[0].get("input")
    if option in NOUNS:
        return f"{option}: unknown {NOUNS[option]} {value!r}; expected one of: {', '.join(choices)}"
    expected = f"{choices[0]!r} or {choices[1]!r}" if len(choices) == 2 else f"one of {', '.join(choices)}"
    return f"{option}: expected {expected}, got {value!r}"

"""The options several commands share (``--json``, ``--wide``, ``--actor``) and who acts.

One definition each, so ``--help`` words an option the same everywhere and a change to one
reaches every command that takes it.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from console.session import fail

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
WideFlag = Annotated[
    bool,
    typer.Option("--wide", help="Every column in full (whole ids), one line a row, however wide the terminal."),
]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who acts, for the audit trail [default: the login name].")
]


def actor_name(actor: str | None) -> str:
    """``--actor``, else the login name: the name the history and the audit trail keep."""
    who = actor if actor is not None else getpass.getuser()
    if not who.strip():
        fail("--actor: expected a name for the audit trail")
    return who

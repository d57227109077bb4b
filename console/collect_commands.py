"""The live-collection commands: ``collect``, ``serve`` and ``status``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the live-collection commands to the ``cyberwell`` app."""

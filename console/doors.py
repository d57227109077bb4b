"""The ``cyberwell`` group: how every command meets a person before it runs.

Whatever a person gets wrong ends as one line on stderr (and a JSON object on stdout with
``--json``), never a traceback or a usage box; a value typer refuses from a list of choices is
named with the choices. ``--help`` shows an option's choices as ``[a|b|c]`` and a flag as a flag
(typer would write ``<bool>`` after it, as if it took a value).
"""

from __future__ import annotations

import errno
import inspect
import re
import sqlite3
import weakref
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from typer._click.exceptions import UsageError
from typer.core import TyperArgument, TyperGroup, TyperOption

from console import choices, session
from console import config as configuration
from console.session import fail

if TYPE_CHECKING:  # the context and command types typer's group methods take (typer vendors click)
    from typer._click.core import Command
    from typer._click.core import Context as GroupContext


#: The commands whose help :func:`plain_help` has made plain (a CliRunner runs many commands in
#: one process: escaping twice would show the backslashes).
_SHOWN_PLAIN: weakref.WeakSet = weakref.WeakSet()


class Doors(TyperGroup):
    """The root group of the ``cyberwell`` command."""

    def parse_args(self, ctx: GroupContext, args: list[str]) -> list[str]:
        session.answer_errors_in_json("--json" in args)
        plain_help(self, ctx)
        try:
            return super().parse_args(ctx, args)
        except UsageError as error:  # an option of the root: cyberwell --bogus
            fail(error.format_message())

    def invoke(self, ctx: GroupContext) -> Any:
        try:
            return super().invoke(ctx)
        except typer.BadParameter as error:  # a value typer could not read: --limit abc
            fail(_refused_choice(error) or error.format_message())
        except UsageError as error:  # an option the command does not have, a missing argument
            fail(error.format_message())
        except sqlite3.Error as error:
            fail(f"the state database in {_home(ctx)} cannot be used: {error} (can this user write the home?)")
        except OSError as error:
            if error.errno == errno.EPIPE:
                raise  # `| head` closed the pipe: typer leaves quietly
            fail(_os_problem(error))


def plain_help(command: Command, ctx: GroupContext) -> None:
    """Every option of ``command`` and the commands under it shown for what it is: a flag with
    nothing after it, a choice with its choices, and help text as written (typer reads it as
    Rich markup, so ``[default: ...]`` would vanish as an unknown tag). Done once for each
    command of the whole tree, so the commands other modules add (``add_typer``) are shown the
    same way."""
    if command in _SHOWN_PLAIN:
        return
    _SHOWN_PLAIN.add(command)
    command.help = escape(_reflowed(command.help)) if command.help else command.help
    help_option = command.get_help_option(ctx)
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if not isinstance(param, TyperOption | TyperArgument):
            continue
        param.help = escape(param.help) if param.help else param.help
        if not isinstance(param, TyperOption) or param.metavar is not None:
            continue
        if param.is_flag:
            param.metavar = ""
        elif param.type_descriptor.is_choice and not param.type_descriptor.is_list:
            param.metavar = choices.metavar([str(c) for c in param.type_descriptor.choices or ()])
    if isinstance(command, TyperGroup):
        for child in command.commands.values():
            plain_help(child, ctx)


def _reflowed(text: str) -> str:
    """A docstring's paragraphs as single lines: typer keeps its line breaks, so a help line
    wrapped at 120 columns in the source would break mid-sentence on any terminal."""
    paragraphs = re.split(r"\n\s*\n", inspect.cleandoc(text))
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def _refused_choice(error: typer.BadParameter) -> str | None:
    param = error.param
    if not isinstance(param, TyperOption) or not param.type_descriptor.is_choice:
        return None
    listed = [str(c) for c in param.type_descriptor.choices or ()]
    return choices.refusal(param.opts[0] if param.opts else None, listed, error)


def _home(ctx: GroupContext) -> str:
    return str(ctx.obj.home) if isinstance(ctx.obj, configuration.Config) else "the home"


def _os_problem(error: OSError) -> str:
    """``/srv/cw/events: Read-only file system``: the path, and what the system said of it."""
    said = error.strerror or type(error).__name__
    return f"{error.filename}: {said}" if error.filename is not None else said

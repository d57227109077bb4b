"""Step arguments and conditions rendered from the alert, in Jinja2's sandbox.

The values come from logs — a user name, a device name, a rule title — and logs are written by
whoever attacks us, so templates run in ``SandboxedEnvironment`` (no reaching into Python
internals such as ``alert.__class__``) over plain data (the alert as a dict, never the object),
and with ``StrictUndefined``: a misspelt name is an error naming the step, not an empty user
name passed to "disable user". An argument that an action marks as HTML (its pydantic field
says ``json_schema_extra={"format": "html"}``, e.g. an email body) is rendered with
autoescaping, so ``<script>`` in a rule title arrives as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

_PLAIN = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_HTML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)
#: Templates are short; rendering one must not be a way to spend the daemon's memory.
MAX_RENDERED = 100_000


class RenderError(ValueError):
    """A step's template failed; the message names the step and the key."""


def is_templated(text: str) -> bool:
    return "{{" in text or "{%" in text


def template_syntax_problems(text: str, expression: bool = False) -> list[str]:
    """What is wrong with the template's syntax (empty when it parses), for load-time checks."""
    try:
        if expression:
            _PLAIN.compile_expression(text)
        elif is_templated(text):
            _PLAIN.parse(text)
    except TemplateSyntaxError as error:
        kind = "a Jinja expression" if expression else "a Jinja template"
        return [f"expected {kind}: {error.message}"]
    return []


def html_arguments(model: type[BaseModel]) -> frozenset[str]:
    """The arguments the action renders as HTML (their field says ``format: html``)."""
    marked = set()
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, Mapping) and extra.get("format") == "html":
            marked.add(info.alias or name)
    return frozenset(marked)


def render_arguments(
    step: str, arguments: Mapping[str, Any], context: Mapping[str, Any], html: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The step's ``with`` values with every string rendered; lists and mappings are walked."""
    return {
        key: _render(value, context, _HTML if key in html else _PLAIN, f"step {step!r}: with.{key}")
        for key, value in arguments.items()
    }


def evaluate_condition(step: str, expression: str, context: Mapping[str, Any]) -> bool:
    """The step's ``when`` expression, as a truth value."""
    try:
        return bool(_PLAIN.compile_expression(expression, undefined_to_none=False)(**context))
    except TemplateError as error:
        raise RenderError(f"step {step!r}: when: {_reason(error)}") from None


def _render(value: Any, context: Mapping[str, Any], env: SandboxedEnvironment, where: str) -> Any:
    if isinstance(value, str):
        if not is_templated(value):
            return value
        try:
            text = env.from_string(value).render(**context)
        except TemplateError as error:
            raise RenderError(f"{where}: {_reason(error)}") from None
        if len(text) > MAX_RENDERED:
            raise RenderError(f"{where}: rendered to {len(text)} characters; expected at most {MAX_RENDERED}")
        return text
    if isinstance(value, list | tuple):
        return [_render(item, context, env, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        return {key: _render(item, context, env, f"{where}.{key}") for key, item in value.items()}
    return value


def _reason(error: TemplateError) -> str:
    # Jinja's messages name the template's own names ("'alert' has no attribute 'x'"), never
    # values from outside the context, so they are safe to show and to keep.
    return f"{type(error).__name__}: {error.message or error}"

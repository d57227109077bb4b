"""Writing an exception file: a false positive turned into an allow-list entry with an expiry.

The dashboard's "this alert is a false positive, stop raising it" ends here. The entry is the
same YAML that people write by hand (format in ``detections.exceptions``), one file per
exception in the home's ``exceptions/`` folder, so ``load_exceptions`` reads it back with every
other exception, ``cyberwell rules list`` reports it when it expires, and a person can read,
edit or delete it. A file is written whole under a temporary name and renamed, so a detection
run never reads half an exception, and an existing file is never overwritten: a second
exception for the same alert gets its own name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

#: The name a file the dashboard writes starts with, so a person sees where it came from.
FILE_PREFIX = "dashboard-"
_NOT_IN_A_NAME = re.compile(r"[^a-z0-9]+")


class ExceptionFileError(ValueError):
    """The exception cannot be written as asked; the message says which part is wrong."""


@dataclass(frozen=True)
class ExceptionDraft:
    """An exception as a person asks for it from an alert."""

    name: str  # a short name, unique in the folder; the file is named after it
    rule_id: str  # the rule it applies to (one rule: an allow-list for every rule is written by hand)
    where: Mapping[str, str]  # field -> the value the alert's events hold (as text)
    owner: str  # who answers for it
    reason: str
    expires: date


def write_exception(folder: Path, draft: ExceptionDraft, today: date) -> Path:
    """Write ``draft`` as a new file in ``folder`` (created if missing); return its path.

    Refused with ``ExceptionFileError``: an expiry that is not after ``today`` (it would never
    apply), no field to match on, a blank owner, reason or name.
    """
    _check(draft, today)
    folder.mkdir(parents=True, exist_ok=True)
    entry = {
        "name": draft.name,
        "rules": [draft.rule_id],
        "where": dict(draft.where),
        "owner": draft.owner,
        "reason": draft.reason,
        # Written as text: YAML reads 2027-01-31 back as a date, which the loader takes as is.
        "expires": draft.expires.isoformat(),
    }
    header = "# Written by `cyberwell dashboard` from a false positive. Format: docs/rules.md (exceptions).\n"
    body = header + _yaml({"exceptions": [entry]})
    target = _free_name(folder, draft.name)
    temporary = target.with_name(f".{target.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(temporary, target)  # fails if the name was taken meanwhile: never overwrites
    finally:
        temporary.unlink()
    return target


def _yaml(document: dict) -> str:
    """Readable YAML (a name with an accent stays as written) that reads back exactly: a value
    holding a character YAML takes as a line break (U+0085, U+2028) is written escaped instead."""
    readable = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    if yaml.safe_load(readable) == document:
        return readable
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=False)


def slug(text: str, limit: int = 48) -> str:
    """A file-name-safe form of ``text`` (lower case, dashes), never empty."""
    cut = _NOT_IN_A_NAME.sub("-", text.lower()).strip("-")[:limit].strip("-")
    return cut or "exception"


def _check(draft: ExceptionDraft, today: date) -> None:
    if draft.expires <= today:
        raise ExceptionFileError(
            f"expires: {draft.expires.isoformat()} is not after today ({today.isoformat()}); an exception must end"
            " in the future"
        )
    if not draft.where:
        raise ExceptionFileError("where: the alert has no entity value to match on; write this exception by hand")
    for label, value in (("name", draft.name), ("owner", draft.owner), ("reason", draft.reason)):
        if not value.strip():
            raise ExceptionFileError(f"{label}: expected some text")
    for field_name, value in draft.where.items():
        if not field_name.strip() or not str(value):
            raise ExceptionFileError(f"where.{field_name}: expected a field name and a value")


def _free_name(folder: Path, name: str) -> Path:
    stem = FILE_PREFIX + slug(name)
    candidate = folder / f"{stem}.yml"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}.yml"
        number += 1
    return candidate
